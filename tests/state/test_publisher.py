"""The state publisher on a real redis-server: ids that survive restarts of either side, an
outage kept in the local buffer and counted beyond it, a store that lost the stream refilled,
and a pipeline that never waits for Redis."""

from __future__ import annotations

import orjson
import redis

from streamdash.config import Settings
from streamdash.models import Batch
from streamdash.runtime import Runtime
from streamdash.state.build import attach_publisher
from streamdash.testing import FakeClock, ListSource
from tests.helpers import wait_until

from .harness import T0, Harness, recs, redis_settings


def test_a_worker_that_starts_again_goes_on_after_what_is_there(request):
    """A second run (same Redis, same stream) numbers its records after the first's: the
    epoch stays, cursors keep growing, a browser's cursor still means the same record."""
    first = Harness.build(request, "redis")
    first.runtime.buffer.extend(recs(5))
    first.sync()
    epoch = first.stream.epoch
    first.close()
    second = Harness.build(request, "redis")
    second.runtime.buffer.extend(recs(3, 100))
    second.sync()
    records = second.stream.records
    assert second.stream.epoch == epoch and records.last_seq == 8
    assert [(s, r["id"]) for s, r in records.after(5)] == [(6, 100), (7, 101), (8, 102)]
    assert records.after(0)[0] == (1, recs(1)[0])
    second.close()


def test_an_outage_keeps_what_the_buffer_holds_and_counts_the_rest(request, fresh_redis):
    """Redis stops: the write fails (named, counted, the status degraded), the pipeline's
    buffer keeps the newest `capacity` records; Redis back: they are written, and the records
    the buffer overwrote meanwhile are counted as dropped, never silently."""
    h = Harness.build(request, "redis", url=fresh_redis.url)
    rt = h.runtime
    rt.buffer.extend(recs(5))
    h.sync()
    fresh_redis.stop()
    rt.buffer.extend(recs(15, 5))  # capacity 10: records 6–10 are overwritten before a write
    assert not h.publisher.flush()
    assert f"state store unreachable (redis://127.0.0.1:{fresh_redis.port}/0)" in \
        h.publisher.error
    assert rt.metrics.counter("state_write_errors") == 1
    assert any("state store failing" in r for r in rt.status().reasons)
    assert rt.health()["components"]["state"]["backlog"] == 15
    fresh_redis.start()  # AOF: the first five are still there
    h.sync()
    records = h.stream.records
    assert records.last_seq == 20 and [s for s, _ in records.after(0)] == list(range(11, 21))
    assert rt.metrics.counter("state_records_dropped") == 5
    assert rt.metrics.counter("state_records_published") == 15
    assert h.publisher.status()["ok"] and rt.health()["components"]["state"]["backlog"] == 0
    h.close()


def test_a_store_that_lost_the_stream_gets_everything_held_again(request, redis_url):
    """A flushed (or restarted, unpersisted) Redis: a new epoch — browsers start over — and
    everything the worker still holds is written again, counted as a reset, not as drops."""
    h = Harness.build(request, "redis")
    h.runtime.buffer.extend(recs(5))
    h.runtime.events.publish("ingest_error", {"at": T0, "source": "s", "reason": "boom"})
    h.sync()
    epoch = h.stream.epoch
    redis.Redis.from_url(redis_url).flushall()
    h.sync()  # this write finds the stream gone: it starts it over …
    h.sync()  # … and the next one is an ordinary write
    s = h.stream
    assert s.epoch != epoch and s.records.last_seq == 5 and len(s.records.after(0)) == 5
    assert s.errors.total == 1 and s.errors.recent()[0]["reason"] == "boom"
    assert h.runtime.metrics.counter("state_store_resets") == 1
    assert h.runtime.metrics.counter("state_records_dropped") == 0
    h.close()


def test_after_a_failure_what_went_through_is_not_written_twice(request, redis_url):
    """The ids are item numbers: after a failure the publisher reads what Redis has, so a
    write that went through is not repeated, and entries Redis lost are written again."""
    h = Harness.build(request, "redis")
    h.runtime.buffer.extend(recs(3))
    h.sync()
    h.runtime.buffer.extend(recs(2, 3))
    h.sync()
    client = redis.Redis.from_url(redis_url)
    key = h.publisher.keys.channel("records")
    assert [r[0] for r in client.xrange(key)] == [b"3-0", b"5-0"]  # one group per write
    h.publisher._synced = False  # as after a failure whose outcome is unknown
    h.sync()
    assert [r[0] for r in client.xrange(key)] == [b"3-0", b"5-0"]
    kept = client.xrange(key, "1-0", "3-0")
    client.delete(key)  # an AOF restart lost the last second: records 4 and 5
    for entry_id, fields in kept:
        client.xadd(key, fields, id=entry_id)
    h.publisher._synced = False
    h.sync()
    assert [r[0] for r in client.xrange(key)] == [b"3-0", b"5-0"]
    assert [r["id"] for _, r in h.stream.records.after(0)] == [0, 1, 2, 3, 4]
    h.close()


def test_the_pipeline_never_waits_for_an_absent_redis(redis_server):
    """With nothing listening at state.url the pipeline ingests as usual, the status says
    the state store is failing, and stop() ends promptly (no final write to a dead store)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = redis_settings(f"redis://127.0.0.1:{port}/0", flush_interval=0.05)
    settings = settings.with_overrides({"source.interval": 0.1})
    runtime = Runtime(settings, ListSource([recs(3), recs(2, 3)]))
    publisher = attach_publisher(runtime, settings)
    runtime.start()
    # Bound: two polls (0.1 s) and a few failed writes (connect refused at once).
    wait_until(lambda: runtime.counts()["accepted"] == 5 and publisher.error, 10,
               "the records ingested and the write failed")
    assert runtime.status().state in ("degraded", "down")
    assert any("state store failing: state store unreachable" in r
               for r in runtime.status().reasons)
    assert runtime.stop(5)
    assert runtime.metrics.counter("state_write_errors") >= 1


def test_a_batch_is_written_without_waiting_for_the_heartbeat(redis_url):
    """A running worker: each batch wakes the publisher, so a reader sees the records well
    before the heartbeat would have written them."""
    from streamdash.state.build import open_store

    settings = redis_settings(redis_url).with_overrides({"source.interval": 0.1})
    runtime = Runtime(settings, ListSource([recs(3), [], [], recs(2, 3)]), clock=FakeClock(T0))
    attach_publisher(runtime, settings)
    stream = open_store(settings).stream()
    runtime.start()
    try:
        # Bound: four polls at 0.1 s plus one flush interval (0.2 s), well under a heartbeat.
        wait_until(lambda: stream.records.last_seq == 5, 5, "the records in Redis")
        assert [r["id"] for _, r in stream.records.after(0)] == [0, 1, 2, 3, 4]
        assert stream.counts()["accepted"] == 5 and stream.pulse().running
    finally:
        runtime.stop(5)
    assert not stream.pulse().running  # the final write says so


def test_a_redis_url_from_the_environment_never_shows_its_password(redis_server):
    """state.url: ${NAME} reads the URL from the environment; the password stays out of
    /health, the error messages and the settings log."""
    from streamdash.errors import ConfigError
    from streamdash.redact import mask_settings
    from streamdash.state.redis_conn import resolve_url

    settings = Settings({"state": {"backend": "redis", "url": "${MY_REDIS}"}})
    params = settings.model.state
    url = "redis://:s3cret-pass@127.0.0.1:1/0"
    assert resolve_url(params, {"MY_REDIS": url}) == url
    for env, problem in (({}, "MY_REDIS is not set"), ({"MY_REDIS": "http://x"}, "does not")):
        try:
            resolve_url(params, env)
            raise AssertionError("accepted")
        except ConfigError as exc:
            assert exc.key == "state.url" and problem in str(exc)
    runtime = Runtime(Settings({"state": {"backend": "redis", "url": url}}), ListSource([]))
    publisher = attach_publisher(runtime, runtime.settings)
    assert not publisher.flush()
    shown = str(runtime.health())
    assert "s3cret-pass" not in shown and "redis://:***@127.0.0.1:1/0" in shown
    assert "s3cret-pass" not in str(mask_settings(runtime.settings.as_dict()))


def test_the_password_of_a_url_read_from_the_environment_is_a_secret():
    """state.url: ${REDIS_URL} — the password in the variable is masked in every output."""
    from streamdash.redact import secret_values

    settings = Settings({"state": {"backend": "redis", "url": "${REDIS_URL}"}})
    env = {"REDIS_URL": "redis://default:p4ssw0rd-x@redis.example:6379/0"}
    assert "p4ssw0rd-x" in secret_values(settings.as_dict(), env)
    assert secret_values(settings.as_dict(), {}) == secret_values(Settings().as_dict(), {})


def test_records_go_in_bounded_groups_and_old_ones_are_trimmed(request, redis_url):
    """Many records: entries of at most GROUP_RECORDS records and half of max_entry_bytes,
    ids the last record's number; the stream keeps (about) the newest capacity."""
    from streamdash.state.publisher import GROUP_RECORDS

    h = Harness.build(request, "redis", max_entry_bytes=4096)
    h.runtime.buffer.extend(recs(9))  # capacity 10
    h.sync()
    client = redis.Redis.from_url(redis_url)
    key = h.publisher.keys.channel("records")
    h.runtime.buffer.extend([{"id": i, "pad": "x" * 700} for i in range(9, 19)])
    h.sync()  # ~7 KB: groups of at most 2 KB each
    ids = [int(r[0].split(b"-")[0]) for r in client.xrange(key)]
    assert ids[-1] == 19 and len(ids) > 3 and all(
        len(r[1][b"d"]) <= 2048 for r in client.xrange(key))
    assert [s for s, _ in h.stream.records.after(0)] == list(range(10, 20))
    h.close()
    from streamdash.runtime import Runtime

    settings = redis_settings(redis_url, key_prefix="big").with_overrides(
        {"buffer.capacity": 2500})
    runtime = Runtime(settings, ListSource([]))
    publisher = attach_publisher(runtime, settings)
    runtime.buffer.extend({"id": i} for i in range(2500))
    assert publisher.flush()
    sizes = [len(orjson.loads(r[1][b"d"])) for r in client.xrange("big:default:records")]
    assert sizes == [GROUP_RECORDS, GROUP_RECORDS, 500]
    publisher.client.close()


def test_it_knows_whether_another_worker_wrote_the_stream_since_it_did(request):
    """``wrote_last()``: true before anyone wrote and after its own write, false once the
    pulse names another writer (what a lease taken back after an outage asks)."""
    h = Harness.build(request, "redis")
    assert h.publisher.wrote_last()
    h.sync()
    assert h.publisher.wrote_last()
    h.publisher.client.hset(h.publisher.keys.pulse, "worker", "someone-else")
    assert not h.publisher.wrote_last()
    h.close()


def test_held_acknowledgements_go_to_the_source_once_a_write_holds_their_batch(request):
    """A worker's push source hears of a stored batch only after the write that holds it
    went through: not while writes are refused, and not for a batch stored after the write
    read its moment."""
    from streamdash.pipeline.acks import defer_acks

    acked: list = []
    h = Harness.build(request, "redis")
    h.runtime.source.push = True  # a ListSource standing in for a push source
    h.runtime.source.ack = acked.append
    held = defer_acks(h.runtime.producer, h.runtime.consumer, 100)
    h.publisher.held_acks = held
    held.track(["a", "b"])  # as the producer does when it fetches them
    h.runtime.consumer.handle(Batch(recs(2), T0, ack=["a", "b"]))
    h.publisher.may_write = lambda: False  # the lease lapsed: no write, no acknowledgement
    assert not h.publisher.flush() and acked == []
    h.publisher.may_write = lambda: True
    h.sync()
    assert acked == [["a", "b"]] and h.stream.counts()["accepted"] == 2
    held.track(["c"])
    h.runtime.consumer.handle(Batch(recs(1, 2), T0, ack=["c"]))
    assert acked == [["a", "b"]] and h.publisher.status()["acks_pending"]["messages"] == 1
    h.sync()
    assert acked == [["a", "b"], ["c"]] and held.pending()["messages"] == 0
    h.close()


def test_a_source_waiting_on_its_held_acknowledgements_has_them_written_at_once(redis_url):
    """A worker's push source at its bound of held acknowledgements gets the write that
    releases them at once, not at the end of the flush interval: with a 10 s interval and
    room for 5 messages, 40 arrive and all but the last few (under the bound: the source no
    longer waits) are acknowledged within that one interval — waiting for each interval's
    write would take 8 intervals, 80 s. The final write on stop acknowledges the rest."""
    from tests.pipeline.test_acks import Pushed

    flush, total, limit = 10.0, 40, 5
    settings = redis_settings(redis_url, key_prefix="hurry", flush_interval=flush,
                              heartbeat_ttl=3 * flush, max_pending_acks=limit).with_overrides(
        {"buffer.capacity": 100, "source.interval": 0.1})
    source = Pushed(total, per_fetch=2)
    runtime = Runtime(settings, source)
    publisher = attach_publisher(runtime, settings, hold_acks=True)
    with runtime:
        # Every message read; all acknowledged but those held under the bound (at most
        # limit - 1: the source no longer waits for them).
        wait_until(lambda: source.sent == total and len(source.acked) > total - limit, flush,
                   "the messages acknowledged")
    assert source.acked == list(range(total))  # each once, in order (the rest: on stop)
    assert runtime.metrics.snapshot()["counters"]["acks_pending_full"] >= 1  # it did wait
    assert publisher.writes >= total // 5
    publisher.client.close()
