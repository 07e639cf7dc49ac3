"""The keyed state on a real redis-server: saved with the counters in one transaction, restored
by the worker that adopts the stream (no double count, no forgotten window), bounded, and
never trusted: garbage, oversized or foreign state is counted, logged and started without.

The runtimes here run no threads unless a test says so: ``deliver`` fetches and processes one
batch exactly as the producer and the consumer do, so each step of a takeover is explicit.
"""

from __future__ import annotations

import logging
import threading

import orjson
import pytest
import redis

from streamdash.config import Settings
from streamdash.runtime import Runtime
from streamdash.state.build import attach_publisher
from streamdash.testing import FakeClock, ListSource
from tests.helpers import wait_until, within

from .harness import T0

SCHEMA = {"key": "id", "event_time": "ts",
          "fields": {"id": "int", "key": "str", "value": "float", "ts": "timestamp"}}
TRANSFORMS = [{"dedup": {"key": "id"}}, {"late": {"lateness": 30}},
              {"window": {"size": 1000, "key": "key", "field": "value", "idle_timeout": 3600}}]
OUTCOMES = ("accepted", "rejected", "duplicate", "filtered", "late", "dropped")


def rec(i: int, ts: float | None = None) -> dict:
    """Record ``i``: key k0/k1 by parity, value i, in the window [T0, T0 + 1000)."""
    return {"id": i, "key": f"k{i % 2}", "value": float(i), "ts": T0 + i if ts is None else ts}


class Node:
    """One worker's runtime and publisher on ``url`` (stream ``default``, prefix ``t``)."""

    def __init__(self, url: str, batches: list, transforms: list = TRANSFORMS, **state):
        settings = Settings({"buffer.capacity": 1000, "source.interval": 1, "schema": SCHEMA,
                             "transforms": transforms,
                             "state": {"backend": "redis", "url": url, "read_cache": 0,
                                       "key_prefix": "t", **state}})
        self.runtime = Runtime(settings, ListSource(batches), clock=FakeClock(T0))
        publisher = attach_publisher(self.runtime, settings)
        assert publisher is not None
        self.publisher = publisher
        self.redis = redis.Redis.from_url(url)

    def deliver(self, batches: int = 1) -> None:
        """Fetch and process ``batches`` batches, as the producer and the consumer would."""
        for _ in range(batches):
            self.runtime.producer.fetch_once()
            self.runtime.consumer.handle(self.runtime.queue.get_nowait())

    def write(self) -> None:
        assert self.publisher.flush(), self.publisher.error

    def counters(self) -> dict:
        """The counters Redis holds for the stream."""
        raw = self.redis.hget("t:default:pulse", "metrics")
        return orjson.loads(raw)["counters"] if raw else {}

    def windows(self) -> list[dict]:
        """The closed windows Redis holds."""
        return [orjson.loads(f[b"d"]) for _, f in self.redis.xrange("t:default:windows")]

    def close(self) -> None:
        self.publisher.client.close()
        self.redis.close()


@pytest.fixture
def nodes(redis_url):
    made: list[Node] = []
    redis.Redis.from_url(redis_url).delete(*[f"t:default:{k}" for k in (
        "meta", "pulse", "alive", "keyed", "records", "quarantine", "late", "windows",
        "errors", "transitions", "quality", "snapshots")])

    def make(batches: list, **kw) -> Node:
        made.append(Node(redis_url, batches, **kw))
        return made[-1]

    yield make
    for node in made:
        node.close()


def identity(counters: dict) -> bool:
    return counters["records_in"] == sum(counters.get(f"records_{o}", 0) for o in OUTCOMES)


def test_a_takeover_neither_double_counts_nor_forgets_the_open_window(nodes):
    """A writes ids 0–9 (and three repeats) with their window open, fetches 10–19 and
    processes them without writing, and dies. B adopts: the redelivered 0–9 are duplicates,
    10–19 are accepted once, and the window A opened closes under B with all 20 values."""
    first = [rec(i) for i in range(10)] + [rec(i) for i in range(3)]
    second = [rec(i) for i in range(10, 20)]
    a = nodes([first, second])
    a.deliver()
    a.runtime.producer.fetch_once()  # fetched and counted before the write, processed after
    a.write()
    a.runtime.consumer.handle(a.runtime.queue.get_nowait())
    saved = orjson.loads(a.redis.get("t:default:keyed"))
    assert saved["v"] == 1 and set(saved["pipeline"]["rules"]) == {"0:dedup", "1:late",
                                                                   "2:window"}
    assert a.counters()["records_accepted"] == 10 and a.windows() == []
    # A dies here (kill -9): nothing more of it reaches Redis.
    closer = rec(100, ts=T0 + 2000)  # its watermark (T0 + 1970) passes the window's end
    b = nodes([first, second, [closer]])
    adopted = b.publisher.adopt()
    assert adopted["records_dropped"] == 10  # A's second batch: fetched, not written
    dedup, late, window = b.runtime.processor.rules
    assert dedup.seen == set(range(10)) and late.watermark.max_time == T0 + 9
    assert {k: len(v) for k, v in window.open[T0].items()} == {"k0": 5, "k1": 5}
    b.deliver(3)
    b.write()
    counters = b.counters()
    assert counters["records_accepted"] == 21  # ids 0–19 and the closer, each once
    assert counters["records_duplicate"] == 3 + 13 and identity(counters)
    closed = {w["key"]: w for w in b.windows()}
    assert set(closed) == {"k0", "k1"}
    assert closed["k0"]["count"] == closed["k1"]["count"] == 10
    assert closed["k0"]["mean"] == 9.0 and closed["k1"]["mean"] == 10.0
    assert {w["closed_by"] for w in closed.values()} == {"watermark"}
    assert b.runtime.metrics.counter("state_keyed_rejected") == 0


def test_counters_and_keyed_state_in_redis_always_describe_the_same_batches(nodes):
    """While a consumer thread processes batch after batch and the publisher writes every
    10 ms, every transactional read of Redis finds as many remembered keys as accepted
    records (each id is new): the two are never of different batches."""
    # ids 0–29,999 within 300 s of event time: no key outlives dedup's TTL (600 s)
    batches = [[rec(n, ts=T0 + n / 100) for n in range(i * 200, i * 200 + 200)]
               for i in range(150)]
    node = nodes(batches, flush_interval=0.01)

    def consume() -> None:
        for i in range(len(batches)):
            node.deliver()
            if i % 10 == 9:  # now and then, until a write: writes fall all along the stream
                writes = node.publisher.writes
                wait_until(lambda w=writes: node.publisher.writes > w, within(0.01), "a write")

    node.publisher.start()
    feeder = threading.Thread(target=consume)
    feeder.start()
    seen: set[int] = set()
    try:
        while 30_000 not in seen:
            pipe = node.redis.pipeline(transaction=True)
            pipe.hget("t:default:pulse", "metrics").get("t:default:keyed")
            metrics, keyed = pipe.execute()
            if metrics and keyed:
                gens = orjson.loads(keyed)["pipeline"]["rules"]["0:dedup"]["state"]
                keys = sum(len(k) for _, k in gens["generations"])
                assert keys == orjson.loads(metrics)["counters"].get("records_accepted", 0)
                seen.add(keys)
            assert feeder.is_alive() or node.publisher.writes, "nothing written"
    finally:
        feeder.join()
        assert node.publisher.stop()
    assert len(seen) >= 10, sorted(seen)  # reads fell all along the stream


def test_an_unchanged_keyed_state_is_not_written_again_until_redis_lost_it(nodes):
    """Heartbeat writes without a batch leave the keyed value alone; a batch rewrites it; a
    store that lost the stream gets it again with everything else."""
    node = nodes([[rec(1)], [rec(2)]])
    node.deliver()
    node.write()
    node.redis.set("t:default:keyed", b"marker")
    node.write()
    assert node.redis.get("t:default:keyed") == b"marker"
    node.deliver()
    node.write()
    assert orjson.loads(node.redis.get("t:default:keyed"))["v"] == 1
    node.redis.delete("t:default:meta", "t:default:keyed")  # as a flushed Redis would
    node.write()
    assert node.redis.get("t:default:keyed") is not None


def test_a_keyed_state_over_the_cap_is_refused_counted_and_logged_once(nodes, caplog):
    """Over state.max_keyed_bytes the state is not saved: a marker says why, each refusal is
    counted, the warning is logged once while it lasts, and the adopting worker starts
    without keyed state and says so."""
    many = [[rec(i) for i in range(200)], [rec(i) for i in range(200, 400)]]
    node = nodes(many, max_keyed_bytes=1024)
    with caplog.at_level(logging.WARNING, logger="streamdash.state"):
        for _ in many:
            node.deliver()
            node.write()
    marker = orjson.loads(node.redis.get("t:default:keyed"))
    assert marker["v"] == 1 and "over state.max_keyed_bytes (1024)" in marker["refused"]
    assert node.runtime.metrics.counter("state_keyed_refused") == 2
    assert [r.getMessage() for r in caplog.records].count(
        "keyed state not saved: a worker taking this stream over would start without dedup "
        "keys, watermark and open windows") == 1
    caplog.clear()
    other = nodes([many[0]], max_keyed_bytes=1024)
    with caplog.at_level(logging.WARNING, logger="streamdash.state"):
        other.publisher.adopt()
    assert other.runtime.metrics.counter("state_keyed_rejected") == 1
    assert "could not save it" in caplog.records[-1].ctx["reasons"]
    assert other.runtime.processor.rules[0].seen == set()


def test_a_key_json_cannot_hold_is_refused_and_the_next_state_that_can_is_saved(nodes,
                                                                                 caplog):
    """A key JSON cannot hold (an integer past 64 bits, put straight into the rule: records
    holding one are not written either) is refused, never stored changed; once it has
    expired the next state is saved again, and that is logged."""
    ttl = [{"dedup": {"key": "id", "ttl": 10}}]
    node = nodes([[rec(1, ts=T0)], [rec(2, ts=T0 + 100)]], transforms=ttl)
    with caplog.at_level(logging.INFO, logger="streamdash.state"):
        node.deliver()
        node.runtime.processor.rules[0].generations[0][1].append(2**70)
        node.runtime.processor.changes += 1
        node.write()
        assert "not encodable as JSON" in orjson.loads(
            node.redis.get("t:default:keyed"))["refused"]
        node.deliver()  # 100 s of event time later: the first generation has expired
        node.write()
    saved = orjson.loads(node.redis.get("t:default:keyed"))["pipeline"]["rules"]["0:dedup"]
    assert saved["state"]["generations"] == [[T0 + 100, [2]]]
    assert node.runtime.metrics.counter("state_keyed_refused") == 1
    assert "keyed state saved again" in [r.getMessage() for r in caplog.records]


def test_a_long_batch_keeps_the_heartbeat_and_writes_the_rest_after_it(nodes):
    """While a batch runs longer than the heartbeat period, a write renews the heartbeat
    alone (the consumer is not interrupted, nothing half-done is written); the next write
    after the batch holds its counters and keyed state."""
    node = nodes([[rec(1)], [rec(2)]])
    node.deliver()
    node.write()
    gate, inside = threading.Event(), threading.Event()
    pipeline = node.runtime.consumer.processor

    class Held:
        def process(self, records, batch):
            inside.set()
            gate.wait(30)
            return pipeline.process(records, batch)

    node.runtime.consumer.processor = Held()
    node.runtime.producer.fetch_once()
    batch = threading.Thread(target=node.runtime.consumer.handle,
                             args=(node.runtime.queue.get_nowait(),))
    batch.start()
    try:
        assert inside.wait(10)
        node.redis.delete("t:default:alive")
        node.write()  # waits one heartbeat period (1 s) for a boundary, then the heartbeat
        assert node.redis.get("t:default:alive") is not None
        assert node.counters()["records_accepted"] == 1
    finally:
        gate.set()
        batch.join(10)
    node.write()
    assert node.counters()["records_accepted"] == 2
    assert orjson.loads(node.redis.get("t:default:keyed"))["pipeline"]["rules"]["0:dedup"][
        "state"]["generations"][-1][1] == [2]


def good_state(nodes) -> bytes:
    node = nodes([[rec(i) for i in range(5)]])
    node.deliver()
    node.write()
    return node.redis.get("t:default:keyed")


def foreign(raw: bytes, **change) -> bytes:
    state = orjson.loads(raw)
    for place, part in change.items():
        state["pipeline"]["rules"][place.replace("_", ":")] = part
    return orjson.dumps(state)


@pytest.mark.parametrize("hostile, refused, kept", [
    (lambda raw: b"\x00\xffnot json", 1, ()),
    (lambda raw: b"[1, 2, 3]", 1, ()),
    (lambda raw: b'{"v": 1, "pipeline": {"v": 1, "rules": {}}, "pad": "' + b"x" * 9000 + b'"}',
     1, ()),
    (lambda raw: raw.replace(b'{"v":1,"pipeline"', b'{"v":7,"pipeline"', 1), 1, ()),
    (lambda raw: b'{"v": 1}', 1, ()),
    (lambda raw: foreign(raw, **{"0_dedup": {"v": 99, "state": {}}}), 1, ("1:late", "2:window")),
    (lambda raw: foreign(raw, **{"2_window": {"v": 1, "state": {"open": "x"}}}), 1,
     ("0:dedup", "1:late")),
    (lambda raw: foreign(raw, **{"0_dedup": {"v": 1, "state": {
        "key": ["id"], "newest": 1.0, "generations": [[1.0, [{"$ne": 1}]]]}}}), 1,
     ("1:late", "2:window")),
], ids=["garbage", "not-an-object", "oversized", "wrong-version", "no-pipeline",
        "rule-version", "bad-window", "injected-key"])
def test_hostile_keyed_state_is_counted_logged_and_started_without(nodes, caplog, hostile,
                                                                   refused, kept):
    """Whatever sits under the keyed key, adopting never raises: the counters carry on, what
    cannot be used is counted (state_keyed_rejected) and logged, and those rules start empty
    while the rest are restored."""
    raw = good_state(nodes)
    node = nodes([[rec(i) for i in range(5)]], max_keyed_bytes=8192)
    node.redis.set("t:default:keyed", hostile(raw))
    with caplog.at_level(logging.INFO, logger="streamdash.state"):
        adopted = node.publisher.adopt()
    assert adopted["records_accepted"] == 5
    assert node.runtime.metrics.counter("state_keyed_rejected") == refused
    assert any(r.getMessage().startswith("saved keyed state not used") for r in caplog.records)
    rules = dict(zip(("0:dedup", "1:late", "2:window"), node.runtime.processor.rules,
                     strict=True))
    assert (rules["0:dedup"].seen == set(range(5))) == ("0:dedup" in kept)
    assert bool(rules["2:window"].open) == ("2:window" in kept)
    node.deliver()  # and the pipeline goes on: what dedup forgot is accepted again
    assert node.runtime.metrics.counter("records_accepted") == \
        5 + (0 if "0:dedup" in kept else 5)


@pytest.mark.parametrize("value", [10, 512 * 1024 * 1024, "big"])
def test_the_keyed_state_cap_is_a_bounded_setting(value):
    """state.max_keyed_bytes outside 1 KiB–256 MiB (or not a number) is a one-line error
    naming the key."""
    from streamdash.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        Settings({"state": {"max_keyed_bytes": value}}).model  # noqa: B018
    assert err.value.key == "state.max_keyed_bytes" and "\n" not in str(err.value)
