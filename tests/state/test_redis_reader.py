"""The web side of the redis backend on a real redis-server: readers in different processes
agree, reads are shared briefly, an absent store or worker is said so, and whatever else is
in Redis cannot break a reader."""

from __future__ import annotations

import socket

import pytest
import redis

from streamdash.errors import StateUnavailable
from streamdash.state.build import open_store
from streamdash.state.layout import FIELD

from .harness import Harness, recs, redis_settings


@pytest.fixture
def harness(request):
    h = Harness.build(request, "redis")
    yield h
    h.close()


def test_two_readers_see_the_same_state(harness, redis_url):
    """Two readers with their own connections (two web processes) answer alike: epoch,
    records, versions, metrics, health — a viewer may be served by either."""
    harness.runtime.buffer.extend(recs(7))
    harness.runtime.metrics.add_many({"records_in": 7, "records_accepted": 7})
    harness.sync()
    other = open_store(harness.runtime.settings).stream()
    one = harness.stream
    assert other.epoch == one.epoch and other.info() == one.info()
    assert other.records.after(2) == one.records.after(2)
    assert other.metrics.snapshot() == one.metrics.snapshot()
    assert other.health()["status"] == one.health()["status"]
    assert other.health()["components"]["state"]["url"] == redis_url


def test_reads_are_shared_for_the_read_cache(harness):
    """Within state.read_cache seconds every request reads the same pulse (one round trip)."""
    now = [0.0]
    stream = open_store(redis_settings(harness.runtime.settings.get("state.url"),
                                       read_cache=2)).stream()
    stream.monotonic = lambda: now[0]
    harness.runtime.buffer.extend(recs(3))
    harness.sync()
    assert stream.records.last_seq == 3
    harness.runtime.buffer.extend(recs(2, 3))
    harness.sync()
    assert stream.records.last_seq == 3  # the shared read is 0 s old
    now[0] = 2.0
    assert stream.records.last_seq == 5


def test_new_records_are_read_once_for_every_viewer(harness, monkeypatch):
    """Viewers asking for "the records after mine" cost one read of what is new."""
    stream = harness.stream
    harness.runtime.buffer.extend(recs(5))
    harness.sync()
    assert len(stream.records.after(0)) == 5
    reads = []
    real = stream.entries
    monkeypatch.setattr(stream, "entries", lambda *a, **k: reads.append(a) or real(*a, **k))
    harness.runtime.buffer.extend(recs(2, 5))
    harness.sync()
    for seen in (5, 4, 6, 5):
        assert [s for s, _ in stream.records.after(seen)] == list(range(seen + 1, 8))
    assert reads == [("records", 6, 7)]


def test_an_unreachable_store_says_so_without_its_password():
    """Nothing at state.url: every read raises StateUnavailable naming the masked URL; the
    page is still built from the local settings."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"redis://:hunter2-pass@127.0.0.1:{port}/0"
    store = open_store(redis_settings(url, retries=0, read_cache=5))
    stream = store.stream()
    reads = []
    real = stream._read_view
    stream._read_view = lambda: reads.append(1) or real()
    with pytest.raises(StateUnavailable) as caught:
        stream.health()
    message = str(caught.value)
    assert message.startswith(f"state store unreachable (redis://:***@127.0.0.1:{port}/0)")
    assert "hunter2" not in message
    assert stream.info().name == "default"  # the fallback
    with pytest.raises(StateUnavailable, match="Connection refused"):
        stream.records.after(0)
    assert reads == [1]  # shared for read_cache seconds: a dead store is not asked again
    assert "hunter2" not in str(store.describe())


def test_no_worker_means_down_with_the_reason(harness, redis_url):
    """Before any worker wrote, and once the heartbeat expired, the state is down and says
    why; the last figures a worker wrote stay readable."""
    stream = harness.stream
    report = stream.health()
    assert report["status"] == "down"
    assert report["reasons"][0] == "no worker has written stream 'default' yet"
    assert stream.epoch == "unwritten" and stream.records.after(0) == []
    harness.runtime.buffer.extend(recs(2))
    harness.sync()
    assert stream.pulse().interval == harness.runtime.fetch_interval()
    redis.Redis.from_url(redis_url).delete(harness.publisher.keys.alive)  # as if expired
    report = stream.health()
    assert report["status"] == "down" and report["reasons"][0].startswith(
        "no worker is writing stream 'default': none has written for 10 s")
    assert stream.status().state == "down" and not stream.pulse().running
    assert stream.records.last_seq == 2


def test_whatever_else_is_in_redis_is_skipped_and_counted(harness, redis_url):
    """Entries that are not JSON, not objects, too large or oddly numbered, and a garbled
    pulse or meta, are skipped (and counted): a reader never breaks, nor executes anything."""
    import pickle

    settings = redis_settings(redis_url, max_entry_bytes=1024)
    stream = open_store(settings).stream()
    harness.runtime.buffer.extend(recs(2))
    harness.sync()
    client = redis.Redis.from_url(redis_url)
    keys = harness.publisher.keys
    for entry_id, data in (("3-0", b"not json"), ("4-0", b"[1, 2]"),
                           ("5-0", pickle.dumps({"id": 5})), ("6-0", b'{"x":"' + b"a" * 2000
                                                              + b'"}'),
                           ("7-1", b'{"id": 7}')):
        client.xadd(keys.channel("records"), {FIELD: data}, id=entry_id)
    client.xadd(keys.channel("records"), {b"other": b"{}"}, id="8-0")
    client.hset(keys.pulse, mapping={"top:records": "8", "top:late": "x", "metrics": b"\x80"})
    client.hset(keys.meta, "info", b'{"name": 5}')
    assert [s for s, _ in stream.records.after(0)] == [1, 2]
    assert stream.late.total == 0 and stream.metrics.snapshot()["counters"] == {}
    assert stream.info() == stream.fallback
    assert stream.health()["components"]["state"]["skipped"] >= 9


def test_a_report_before_any_worker_has_every_part(harness):
    """/health and /metrics read every key of a report: it has them before a worker wrote."""
    from streamdash.server.prometheus import build_registry

    report = harness.stream.health()
    assert {"status", "reasons", "firing", "interval_s", "version", "uptime_s",
            "components"} <= set(report)
    from prometheus_client import generate_latest

    text = generate_latest(build_registry(harness.stream)).decode()
    assert 'streamdash_health_status{status="down",stream="default"} 1.0' in text


def test_a_postgres_history_is_what_a_web_process_reads(redis_url, postgres_dsn):
    """With storage.backend postgres, a web process's stream reads the history every role
    writes there (metric charts, API pages) through a pool its store starts and closes; with
    SQLite, the writer's own file, it reads none."""
    from streamdash.config import Settings
    from streamdash.store.history import open_history

    from .harness import T0

    history = open_history(postgres_dsn)
    history.start()
    for i in range(3):
        history.record_snapshot({"records_in": i}, ts=T0 + i)
    assert history.stop()
    store = open_store(Settings({"state": {"backend": "redis", "url": redis_url},
                                 "storage": {"backend": "postgres", "url": postgres_dsn}}))
    try:
        stream = store.stream()
        assert stream.history is store.histories["default"].reader
        assert stream.metric_history(["records_in"], T0, T0 + 10) == \
            {"records_in": [(T0, 0), (T0 + 1, 1), (T0 + 2, 2)]}
        assert stream.metric_history(["records_in"], T0, T0 + 10, step=10) == \
            {"records_in": [(T0 + 1, 1.0)]}
        assert store.histories["default"].pool._pool is not None  # readers' pool, serving
    finally:
        store.close()
    assert store.histories["default"].pool._pool is None
    sqlite = open_store(redis_settings(redis_url))
    assert sqlite.histories == {} and sqlite.stream().history is None
    sqlite.close()


def test_each_stream_of_a_web_process_reads_its_own_postgres_schema(redis_url, postgres_dsn):
    """Several streams: each stream's pages and charts come from its own schema
    (``<storage.schema>_<name>``, where its worker writes), never another stream's."""
    from streamdash.config import Settings

    store = open_store(Settings({
        "state": {"backend": "redis", "url": redis_url},
        "storage": {"backend": "postgres", "url": postgres_dsn},
        "streams": {"a": {"source": {"type": "simulated"}},
                    "b": {"source": {"type": "simulated"}}}}))
    try:
        assert {n: h.postgres.schema for n, h in store.histories.items()} == \
            {"a": "streamdash_a", "b": "streamdash_b"}
        assert store.stream("a").history is store.histories["a"].reader
        assert store.stream("b").history is store.histories["b"].reader
    finally:
        store.close()
