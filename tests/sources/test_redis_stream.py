"""The redis-stream source against a real redis-server: exact accounting, acknowledgement
after storing, a restart mid-stream, a dead consumer's entries, and every bound."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from streamdash.config import Settings
from streamdash.errors import ConfigError, SourceError
from streamdash.pipeline.jsonl import Unparsed
from streamdash.runtime import Runtime
from streamdash.sources import build_source
from streamdash.sources.redis_stream import RedisStreamSource
from tests.helpers import wait_for, within

BATCH_TIME = 0.05
SCHEMA = {"key": "sid", "fields": {"sid": "str", "seq": "int", "value": "float"}}


def source_settings(url: str, **source) -> dict:
    return {"type": "redis-stream", "url": url, "stream": "sensors", "start": "0",
            "payload_field": "data", "id_field": "sid", "batch_time": BATCH_TIME,
            "interval": 0.2, **source}


def make(url: str, **source) -> RedisStreamSource:
    src = build_source(Settings({"source": source_settings(url, **source)}))
    assert isinstance(src, RedisStreamSource)
    return src


def runtime(url: str, **source) -> Runtime:
    return Runtime(Settings({"source": source_settings(url, **source), "schema": SCHEMA,
                             "transforms": ["dedup"], "buffer": {"capacity": 20_000}}))


def publish(url: str, n: int, start: int = 0, data=None) -> None:
    """XADD entries ``start``..``n-1`` with explicit ids ``i+1-0`` (a retried add is refused,
    never doubled), each ``{"data": {"seq": i, "value": …}}`` unless ``data(i)`` says."""
    r = redis.Redis.from_url(url)
    for lo in range(start, n, 1000):
        pipe = r.pipeline(transaction=False)
        for i in range(lo, min(n, lo + 1000)):
            fields = data(i) if data else {"data": f'{{"seq": {i}, "value": {i / 10}}}'}
            pipe.xadd("sensors", fields, id=f"{i + 1}-0")
        pipe.execute()
    r.close()


def drain(src: RedisStreamSource, n: int, ack: bool = True, timeout: float = 0.0) -> list:
    """Fetch (and acknowledge, as the consumer would after storing) until ``n`` records."""
    out: list = []
    deadline = time.monotonic() + (timeout or within(BATCH_TIME * n / 100))
    while len(out) < n and time.monotonic() < deadline:
        got = src.fetch()
        out += got
        if ack and getattr(got, "token", None):
            src.ack(got.token)
    return out


def pending(url: str) -> int:
    return redis.Redis.from_url(url).xpending("sensors", "streamdash")["pending"]


def settled(rt: Runtime, n: int):
    """The counts once ``n`` records are accounted for (accepted, rejected or duplicate)."""
    def done():
        c = rt.counts()
        return c["accepted"] + c["rejected"] + c["duplicate"] >= n
    assert wait_for(done, within(BATCH_TIME * n / 500, 0.2)), rt.counts()
    return rt.counts()


def test_ten_thousand_entries_are_accounted_for_exactly(redis_url):
    """10,000 entries in: each is accepted or quarantined exactly once (non-JSON payloads and
    entries without the payload field included), and every one is acknowledged."""
    def data(i):
        if i % 200 == 7:
            return {"data": "not json"}
        if i % 200 == 9:
            return {"other": "field"}
        return {"data": f'{{"seq": {i}, "value": {i / 10}}}'}

    publish(redis_url, 10_000, data=data)
    rt = runtime(redis_url, batch_size=500)
    with rt:
        counts = settled(rt, 10_000)
        assert wait_for(lambda: pending(redis_url) == 0, within(BATCH_TIME, 0.2))
    assert counts == {"in": 10_000, "accepted": 9_900, "rejected": 100, "duplicate": 0,
                      "filtered": 0, "late": 0, "dropped": 0}
    assert sorted(r["seq"] for _, r in rt.buffer.snapshot()) == \
        [i for i in range(10_000) if i % 200 not in (7, 9)]
    assert {q.reasons[0]["rule"] for q in rt.quarantine.recent()} == {"json"}
    assert rt.source.stats["acked"] == 10_000


def test_entries_are_acknowledged_only_once_stored(redis_url):
    """Read but not acknowledged (a crash before storing), entries stay pending; the same
    consumer started again gets them first, and acknowledging empties the pending list."""
    publish(redis_url, 300)
    crashed = make(redis_url, batch_size=100)
    assert len(drain(crashed, 100, ack=False)) == 100
    assert pending(redis_url) == 100
    crashed._pool.disconnect()  # gone without acknowledging (close() would send its acks)
    again = make(redis_url, batch_size=100)
    records = drain(again, 300)
    assert [r["seq"] for r in records] == list(range(300))
    assert again.stats["redelivered"] == 100
    again.fetch()  # the last acknowledgements go out with the next fetch
    assert pending(redis_url) == 0
    again.close()


def test_batches_drained_at_shutdown_are_still_acknowledged(redis_url):
    """After interrupt() (the runtime stopping) the consumer's acknowledgements still go out,
    at close()."""
    publish(redis_url, 20)
    src = make(redis_url)
    got = src.fetch()
    src.interrupt()
    assert src.fetch() == []  # stopping: nothing more is read
    src.ack(got.token)
    src.close()
    assert pending(redis_url) == 0


def test_a_reconnect_does_not_deliver_what_is_still_in_flight(redis_url):
    """A connection killed during a blocking read: the source reconnects and re-reads this
    consumer's pending entries, skipping those still in the pipeline (read, not yet
    acknowledged), so nothing arrives twice."""
    publish(redis_url, 10)
    src = make(redis_url, batch_size=10, batch_time=5, backoff_base=0.01)
    first = src.fetch()
    r = redis.Redis.from_url(redis_url)
    got: list = []
    reader = threading.Thread(target=lambda: got.extend(src.fetch()))
    reader.start()

    def blocked() -> list:
        return [c["id"] for c in r.client_list() if c["cmd"] == "xreadgroup"]
    assert wait_for(blocked, within(0.1))
    r.client_kill_filter(_id=blocked()[0])
    publish(redis_url, 20, start=10)
    reader.join(within(5))
    rest = got + drain(src, 10 - len(got))
    src.ack(first.token)
    src.ack(rest and [e.encode() for e in (rec["sid"] for rec in rest)])
    assert sorted(rec["seq"] for rec in first + rest) == list(range(20))
    assert src.stats["reconnects"] == 1 and src.errors.total == 1
    src.close()
    assert pending(redis_url) == 0


def test_a_dead_consumers_entries_are_claimed(redis_url):
    """Entries another consumer read and never acknowledged are claimed (XAUTOCLAIM) once
    idle for claim_idle, stored and acknowledged."""
    publish(redis_url, 500)
    r = redis.Redis.from_url(redis_url)
    r.xgroup_create("sensors", "streamdash", "0")
    assert len(r.xreadgroup("streamdash", "dead", {"sensors": ">"}, count=200)[0][1]) == 200
    src = make(redis_url, consumer="alive", claim_idle=0.1, claim_every=0.1)
    records = drain(src, 500)
    src.fetch()
    assert sorted(rec["seq"] for rec in records) == list(range(500))
    assert src.stats["claimed"] == 200 and pending(redis_url) == 0
    src.close()


def test_redis_restart_mid_stream_loses_nothing(fresh_redis):
    """Redis (with AOF) restarted while entries are being added and read: the source
    reconnects, takes up its pending entries, and every entry is stored once."""
    url = fresh_redis.url
    publish(url, 3_000)
    rt = runtime(url, batch_size=200, backoff_base=0.05, backoff_max=0.2)
    with rt:
        assert wait_for(lambda: rt.counts()["accepted"] >= 1_000, within(1.0))
        fresh_redis.restart()
        publisher = threading.Thread(target=publish, args=(url, 10_000, 3_000))
        publisher.start()
        publisher.join(within(1.0))
        counts = settled(rt, 10_000)
        assert wait_for(lambda: pending(url) == 0, within(BATCH_TIME, 0.2))
    assert counts["accepted"] == 10_000 and counts["rejected"] == 0
    assert counts["in"] == counts["accepted"] + counts["duplicate"]
    assert rt.source.stats["reconnects"] >= 1
    assert rt.source.errors.total >= 1  # each failed attempt is an ingestion error


def test_a_full_queue_holds_reading_back_visibly_and_drops_nothing(redis_url):
    """While the consumer is held, the queue fills, the producer waits (the source health
    says since when: /health and pipeline_backlogged read it), the source reads no further
    than max_in_flight, and nothing is dropped: released, every entry is stored."""
    from streamdash.pipeline import build_processor

    publish(redis_url, 2_000)
    settings = Settings({"source": source_settings(redis_url, batch_size=100, max_in_flight=300),
                         "schema": SCHEMA, "transforms": ["dedup"],
                         "queue": {"maxsize": 1}, "buffer": {"capacity": 5_000}})
    gate = threading.Event()

    class Held:
        def __init__(self, inner):
            self.inner = inner

        def process(self, records, batch):
            gate.wait(within())
            return self.inner.process(records, batch)

    src = build_source(settings)
    rt = Runtime(settings, src, Held(build_processor(settings, src.hints)))
    with rt:
        assert wait_for(lambda: rt.source_health.snapshot()["waiting_since"], within(0.2))
        assert rt.source.describe()["in_flight"] <= 300
        gate.set()
        counts = settled(rt, 2_000)
    assert counts["accepted"] == 2_000 and counts["dropped"] == 0
    assert rt.metrics.counter("producer_blocked_seconds") > 0


def test_reading_stops_at_max_in_flight(redis_url):
    """With max_in_flight entries unacknowledged the source reads nothing more (after waiting
    batch_time for an acknowledgement); one acknowledgement lets reading go on."""
    publish(redis_url, 50)
    src = make(redis_url, batch_size=10, max_in_flight=20)
    a = src.fetch()
    assert len(a) == len(src.fetch()) == 10
    began = time.monotonic()
    assert src.fetch() == [] and time.monotonic() - began >= BATCH_TIME * 0.9
    src.ack(a.token)
    assert [r["seq"] for r in src.fetch()] == list(range(20, 30))
    assert src.describe()["in_flight"] == 20
    src.close()


def test_an_entry_over_max_payload_bytes_is_refused_acknowledged_and_reported(redis_url):
    """A 2 MB entry under a 1 KB limit is skipped as it arrives (never held), acknowledged,
    counted and reported; the entries around it are read."""
    publish(redis_url, 3, data=lambda i: {"data": "x" * (2_000_000 if i == 1 else 10)})
    events: list = []
    src = make(redis_url, max_payload_bytes=1024, payload_field="", id_field="")
    src.errors.add_listener(events.append)
    records = drain(src, 2)
    src.fetch()
    assert records == [{"data": "x" * 10}] * 2 and pending(redis_url) == 0
    assert src.refusals.snapshot() == {"too_large": 1}
    assert events[0]["kind"] == "too_large" and "2000004 bytes" in events[0]["reason"]
    src.close()


def test_flat_entries_are_records_cast_by_the_field_map(redis_url):
    """Without payload_field the entry's fields are the record; fields casts the text."""
    publish(redis_url, 2, data=lambda i: {"sensor": f"s{i}", "value": "21.5", "x": "1"})
    src = make(redis_url, payload_field="", fields={"sensor": "sensor", "value": "value:float",
                                                    "sid": "sid"})
    assert drain(src, 2) == [{"sensor": "s0", "value": 21.5, "sid": "1-0"},
                             {"sensor": "s1", "value": 21.5, "sid": "2-0"}]
    assert src.hints.value_field == "value"
    src.close()


def test_a_deleted_group_is_created_again(redis_url):
    """XGROUP DESTROY under a running source: the next fetch creates the group again (from
    start) and reading goes on."""
    publish(redis_url, 5)
    src = make(redis_url)
    assert len(drain(src, 5)) == 5
    redis.Redis.from_url(redis_url).xgroup_destroy("sensors", "streamdash")
    assert [r["seq"] for r in drain(src, 5)] == list(range(5))
    src.close()


def test_unreachable_redis_is_a_failed_fetch_naming_the_url(closed_port):
    """Nothing listening: retried for max_time (each attempt an ingestion error), then a
    SourceError naming the URL, never the password."""
    url = f"redis://:hunter2-pw@127.0.0.1:{closed_port}/0"
    src = make(url, max_time=0.2, backoff_base=0.01, backoff_max=0.05)
    with pytest.raises(SourceError) as err:
        src.fetch()
    assert err.value.kind == "connection" and f"127.0.0.1:{closed_port}" in str(err.value)
    assert "hunter2-pw" not in str(err.value) + str(src.describe())
    assert src.errors.total >= 2 and src.stats["failed_fetches"] == 1
    src.close()


def test_password_is_sent_and_never_shown(fresh_redis):
    """A password (from the environment) authenticates; a wrong one fails as kind auth,
    without retrying and without showing it."""
    r = redis.Redis.from_url(fresh_redis.url)
    r.config_set("requirepass", "right-pw-123")
    publish(f"redis://:right-pw-123@127.0.0.1:{fresh_redis.port}/0", 1)
    good = make(fresh_redis.url, password="right-pw-123")
    assert len(drain(good, 1)) == 1
    assert "right-pw-123" not in str(good.describe())
    good.close()
    bad = make(fresh_redis.url, password="wrong-pw-456", max_time=5)
    with pytest.raises(SourceError) as err:
        bad.fetch()
    assert err.value.kind == "auth" and "wrong-pw-456" not in str(err.value)
    assert bad.errors.total == 1  # permanent: not retried
    bad.close()


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("url", "http://h", "redis:// or rediss://"), ("url", None, "required"),
    ("stream", None, "required"),
    ("stream", "s" * 300, "at most 256"), ("start", "latest", "entry id"),
    ("claim_idle", 0, "between"), ("read_timeout", 0.01, "longer than batch_time"),
    ("max_time", -1, "between 0 and 3600"), ("group", "", "at least 1")])
def test_bad_settings_name_their_key(redis_url, key, value, problem):
    """Each bad setting is a ConfigError at source.<key> saying what is wrong."""
    source = {**source_settings(redis_url), key: value}
    if value is None:
        del source[key]
    with pytest.raises(ConfigError, match=problem) as err:
        build_source(Settings({"source": source}))
    assert err.value.key == f"source.{key}"


def test_unparsed_payload_and_describe(redis_url):
    """A payload that is not JSON is an Unparsed record; describe() says where and how."""
    publish(redis_url, 1, data=lambda i: {"data": "{broken"})
    src = make(redis_url)
    [record] = drain(src, 1)
    assert isinstance(record, Unparsed) and record.text == "{broken"
    info = src.describe()
    assert info["stream"] == "sensors" and info["consumer"] == "streamdash-redis-stream"
    assert info["connected"] is True
    src.close()
