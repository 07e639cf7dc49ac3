"""Tests for streamdash.store.history.postgres.store: PostgreSQL down, locked or slow, on a real
server of the test's own (``fresh_postgres``: killed with SIGKILL and started again)."""

import threading
import time

import psycopg
import pytest

from streamdash.config import Settings
from streamdash.runtime import Runtime
from streamdash.store.history import (
    History,
    QueryTooSlow,
    StorageOptions,
    StorageUnavailable,
    open_store,
)
from streamdash.store.history.writer import MAX_BACKOFF
from streamdash.testing import ListSource
from tests.helpers import wait_until, within
from tests.server.test_routes import Server

#: The writer's loop takes what is queued every 0.2 s.
LOOP = 0.2


def amcheck(dsn):
    """amcheck's verdict on every history index (installing the extension first)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
    return open_store(dsn).reader.integrity_check()


def test_killed_server_buffers_reports_and_flushes_when_back(fresh_postgres):
    """kill -9 of PostgreSQL while a runtime writes: /health says the store is failing and
    buffering, the pipeline runs on, snapshots taken while it was down are written once it is
    back, nothing is corrupt, and the API serves the points from before the crash."""
    dsn = fresh_postgres.dsn()
    settings = Settings({"source.interval": 0.1, "storage": {
        "backend": "postgres", "url": dsn, "snapshot_interval": 0.2}})
    runtime = Runtime(settings, ListSource([[{"id": 1}]], loop=True))
    server = Server(runtime)
    runtime.start()
    try:
        history = runtime.history
        wait_until(lambda: history.status()["last_snapshot_at"], within(0.2, LOOP),
                   "a first snapshot written")
        before = history.reader.snapshots(0, time.time())
        fresh_postgres.kill()
        killed_at = time.time()
        wait_until(lambda: server.json("/health")[1]["components"]["storage"]["buffering"],
                   within(0.2, LOOP), "/health to say it buffers")
        status, body = server.json("/health")
        storage = body["components"]["storage"]
        assert status == 200 and body["status"] == "degraded"
        assert storage["backend"] == "postgres" and storage["ok"] is False
        assert storage["error"] and storage["pending"] >= 1
        seen = runtime.counts()["in"]
        wait_until(lambda: runtime.counts()["in"] > seen, within(0.1), "ingestion going on")
        assert server.json("/api/metrics")[0] == 503  # said so, not a traceback
        fresh_postgres.start()
        restarted_at = time.time()
        wait_until(lambda: history.status()["ok"], within(MAX_BACKOFF, LOOP),
                   "the store to recover")
        wait_until(lambda: history.status()["pending"] == 0, within(LOOP), "the buffer written")
        after = history.reader.snapshots(0, time.time())
        assert after[:len(before)] == before  # the history from before the crash is intact
        assert any(killed_at < s["ts"] < restarted_at for s in after)  # taken while down
        status, body = server.json("/api/metrics?name=records_in&since=1h&limit=10000")
        times = [p["t"] for p in body["series"]["records_in"]]
        assert status == 200 and [s["ts"] for s in before] == times[:len(before)]
        assert history.status()["dropped"] == 0
    finally:
        server.close()
        runtime.stop()
    assert amcheck(dsn) == "ok"


def test_the_local_buffer_is_bounded_and_counts_what_it_lets_go(fresh_postgres):
    """While PostgreSQL is down the writer keeps at most queue_size items queued plus
    queue_size buffered; every item is either written once it is back or counted as
    dropped."""
    dsn = fresh_postgres.dsn()
    history = History(open_store(dsn), StorageOptions(queue_size=10))
    with history:
        wait_until(lambda: history.status()["written"] >= 1, within(LOOP), "the run row")
        fresh_postgres.kill()
        for i in range(40):
            history.on_ingest_error({"reason": f"e{i}"})
            time.sleep(0.01)  # spread over the writer's takes
        wait_until(lambda: not history.status()["ok"], within(LOOP), "the failure seen")
        fresh_postgres.start()
        wait_until(lambda: history.status()["ok"] and history.status()["pending"] == 0,
                   within(MAX_BACKOFF, LOOP), "the buffer written")
        status = history.status()
    written = history.reader.count("errors")
    assert written + status["dropped"] == 40 and 10 <= written <= 20


def test_a_lock_past_the_statement_timeout_is_a_failure_then_recovers(postgres_dsn):
    """Another session holding the table makes a write run past storage.statement_timeout:
    reported (PostgreSQL's own words), retried, written once the lock is gone."""
    options = StorageOptions(statement_timeout=0.3)
    history = History(open_store(postgres_dsn, options), options)
    with history:
        wait_until(lambda: history.status()["written"] >= 1, within(LOOP), "the run row")
        with psycopg.connect(postgres_dsn) as blocker:
            blocker.execute("LOCK TABLE streamdash.snapshots IN ACCESS EXCLUSIVE MODE")
            history.record_snapshot({"x": 1}, ts=1e9)
            wait_until(lambda: not history.status()["ok"], within(LOOP, 0.3), "the timeout")
            assert "statement timeout" in history.status()["error"]
            blocker.rollback()
        wait_until(lambda: history.status()["ok"], within(MAX_BACKOFF), "the recovery")
    assert history.reader.metrics(["x"], 0, 2e9)["x"] == [(1e9, 1)]


def test_stop_cancels_a_write_held_by_a_lock_and_answers_on_time(postgres_dsn):
    """A writer stuck on another session's lock (statement timeout 60 s) makes stop(timeout)
    answer False on time: its statement is cancelled, the thread ends, the loss counted."""
    options = StorageOptions(statement_timeout=60)
    history = History(open_store(postgres_dsn, options), options)
    history.start()
    wait_until(lambda: history.status()["written"] >= 1, within(LOOP), "the run row")
    with psycopg.connect(postgres_dsn) as blocker:
        blocker.execute("LOCK TABLE streamdash.snapshots IN ACCESS EXCLUSIVE MODE")
        history.record_snapshot({"x": 1}, ts=1e9)
        time.sleep(2 * LOOP)  # the writer takes it and waits on the lock
        began = time.monotonic()
        assert history.stop(1.0) is False
        assert time.monotonic() - began < within(1.0)  # not the 60 s the lock could hold it
        wait_until(lambda: not history.alive, within(1.0), "the writer to end")
        assert history.status()["dropped"] >= 1
    assert not [t.name for t in threading.enumerate() if t.name.startswith("streamdash-history")]


def test_readers_share_a_pool_while_the_writer_runs_and_close_it_after(postgres_dsn):
    """While the writer runs, reads borrow the pool's connections (its threads are named
    after it); stop() closes the pool and joins its threads; reads then connect per query."""
    history = History(open_store(postgres_dsn))
    with history:
        history.record_snapshot({"x": 1}, ts=1e9)
        wait_until(lambda: history.status()["written"] >= 2, within(LOOP), "the snapshot")
        for _ in range(3):
            assert history.reader.count("snapshots") == 1
        stats = history.store.pool._pool.get_stats()
        assert stats["requests_num"] >= 3 and stats["connections_num"] <= 4
    assert not [t.name for t in threading.enumerate() if t.name.startswith("streamdash-history")]
    assert history.reader.count("snapshots") == 1


def test_reader_errors_say_what_and_where(postgres_dsn):
    """A database without the tables, a query past the reader's bound (held by a lock) and a
    server nobody listens for each raise StorageUnavailable with a one-line reason."""
    reader = open_store(postgres_dsn).reader
    with pytest.raises(StorageUnavailable, match="no history tables in postgresql://"):
        reader.count("dlq")
    open_store(postgres_dsn).connect()
    with psycopg.connect(postgres_dsn) as blocker:
        blocker.execute("LOCK TABLE streamdash.dlq IN ACCESS EXCLUSIVE MODE")
        began = time.monotonic()
        with pytest.raises(QueryTooSlow, match="stopped after 0.2 s"):
            reader.limited(0.2).events("dlq", 0, 1)
        assert time.monotonic() - began < within(0.2)
    dead = open_store("postgresql://x:PW-HIDDEN@127.0.0.1:9/db").reader
    with pytest.raises(StorageUnavailable) as err:
        dead.count("dlq")
    assert "PW-HIDDEN" not in str(err.value) and "\n" not in str(err.value)


def test_two_schemas_keep_two_histories_in_one_database(postgres_dsn):
    """storage.schema names where the tables live: two deployments sharing a database keep
    separate histories."""
    first = History(open_store(postgres_dsn, StorageOptions(schema="first")))
    second = History(open_store(postgres_dsn, StorageOptions(schema="second")))
    with first, second:
        first.record_snapshot({"x": 1}, ts=1e9)
        second.record_snapshot({"x": 2}, ts=1e9)
    assert first.reader.metrics(["x"], 0, 2e9)["x"] == [(1e9, 1)]
    assert second.reader.metrics(["x"], 0, 2e9)["x"] == [(1e9, 2)]
