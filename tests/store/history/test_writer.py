"""Tests for streamdash.store.history.writer: History, the writer thread, and its Service
lifecycle, on both backends (real SQLite, real PostgreSQL); the failures of each backend's
own kind (a full disk, another process's lock) on SQLite here, PostgreSQL's in
test_postgres.py."""

import contextlib
import sqlite3
import threading
import time

import pytest

from streamdash.config import Settings
from streamdash.models import utc_iso
from streamdash.store.history import (
    History,
    SqliteReader,
    SqliteStore,
    StorageOptions,
    build_history,
    database_path,
)
from streamdash.threads import Service
from tests.helpers import wait_until as wait_for
from tests.helpers import within

#: A recent time, so the default 7-day retention keeps what the tests write.
T0 = time.time() - 3600


def test_persists_snapshots_and_events_and_reads_them_back(history_backend):
    """Snapshots, alerts, quarantined records and ingestion errors are written and queryable."""
    with history_backend.history() as history:
        history.record_snapshot({"throughput_in": 12.5, "queue_depth": 3}, ts=T0)
        history.record_snapshot({"throughput_in": 20.0, "queue_depth": 1}, ts=T0 + 10)
        history.on_alert({"name": "nulls", "state": "firing", "severity": "warning",
                          "at": utc_iso(T0 + 1)})
        history.on_rejections([{"at": T0 + 5, "source": "sim", "record": {"id": 1},
                                "reasons": [{"field": "value", "rule": "type"}]}])
        history.on_ingest_error({"ts": T0 + 6, "source": "api", "kind": "http",
                                 "reason": "HTTP 500", "url": "http://127.0.0.1/x"})
    reader = history_backend.reader()
    assert reader.metrics(["throughput_in"], T0, T0 + 20) == {
        "throughput_in": [(T0, 12.5), (T0 + 10, 20.0)]}
    assert reader.metrics(["queue_depth"], T0 + 5, T0 + 20) == {"queue_depth": [(T0 + 10, 1)]}
    assert [s["ts"] for s in reader.snapshots(T0, T0 + 20, limit=1)] == [T0 + 10]
    alert = reader.events("alerts", T0, T0 + 20)[0]
    assert (alert["rule"], alert["state"], alert["severity"]) == ("nulls", "firing", "warning")
    assert alert["ts"] == pytest.approx(T0 + 1, abs=0.001)
    dlq = reader.events("dlq", T0, T0 + 20)[0]
    assert dlq["record"] == {"id": 1} and dlq["reasons"][0]["rule"] == "type"
    err = reader.events("errors", T0, T0 + 20)[0]
    assert (err["source"], err["kind"], err["message"]) == ("api", "http", "HTTP 500")
    assert history_backend.integrity_check() == "ok"


def test_history_survives_a_restart_and_counts_runs(history_backend):
    """A second store on the same file keeps the first one's rows and records a second run."""
    with history_backend.history() as first:
        first.record_snapshot({"records_in": 5}, ts=T0)
    with history_backend.history() as second:
        second.record_snapshot({"records_in": 7}, ts=T0 + 1)
    reader = history_backend.reader()
    assert reader.metrics(["records_in"], T0, T0 + 1)["records_in"] == [(T0, 5), (T0 + 1, 7)]
    runs = reader.runs()
    assert len(runs) == 2 and all(r["stopped"] is not None for r in runs)


def test_a_full_queue_drops_and_counts_instead_of_blocking(history_backend):
    """Publishing never blocks: beyond the queue's capacity items are dropped and counted."""
    history = history_backend.history(StorageOptions(queue_size=10))
    accepted = [history.put("errors", {"reason": str(i)}) for i in range(15)]
    assert accepted.count(True) == 10 and history.status()["dropped"] == 5
    history.on_rejections([{"record": {"id": i}, "reasons": []} for i in range(7)])
    assert history.status()["dropped"] == 12  # a dropped batch counts all of its rows
    history.start()
    history.stop()
    assert history_backend.reader().count("errors") == 10


class PageLimit:
    """A connect function imposing ``PRAGMA max_page_count`` (a real SQLITE_FULL) when set."""

    def __init__(self):
        self.max_pages = None

    def __call__(self, *args, **kwargs):
        conn = sqlite3.connect(*args, **kwargs)
        if self.max_pages is not None:
            conn.execute(f"PRAGMA max_page_count = {self.max_pages}")
        return conn


def test_disk_full_is_reported_logged_and_recovered(tmp_path, caplog):
    """A full disk marks the store unhealthy and is logged; items are kept and written later."""
    limit = PageLimit()
    limit.max_pages = 3  # too small for the schema: every write fails with SQLITE_FULL
    history = History(SqliteStore(database_path(tmp_path), connect=limit))
    with caplog.at_level("ERROR", logger="streamdash.history"):
        history.start()
        history.record_snapshot({"records_in": 1}, ts=T0)
        wait_for(lambda: not history.status()["ok"])
    status = history.status()
    assert "full" in status["error"] and status["pending"] >= 1 and status["errors"] >= 1
    assert any("history storage failing" in r.getMessage() for r in caplog.records)
    limit.max_pages = None
    wait_for(lambda: history.status()["ok"], timeout=15)
    history.stop()
    assert history.reader.metrics(["records_in"], T0, T0)["records_in"] == [(T0, 1)]


def writing(path, options):
    """A started History on ``path`` that has written its first row (the run)."""
    history = History(SqliteStore(path, options.busy_timeout), options)
    history.start()
    wait_for(lambda: history.status()["written"] >= 1)
    return history


@contextlib.contextmanager
def write_locked(path):
    """Another connection holds the database's write lock for the block."""
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_locked_database_is_reported_and_recovered(tmp_path):
    """Another connection holding the write lock is reported as 'locked'; the store catches up."""
    path = database_path(tmp_path)
    history = writing(path, StorageOptions(busy_timeout=0.1))
    with write_locked(path):
        history.record_snapshot({"records_in": 9}, ts=T0)
        wait_for(lambda: not history.status()["ok"])
        assert "locked" in history.status()["error"]
    wait_for(lambda: history.status()["ok"], timeout=15)
    history.stop()
    assert SqliteReader(path).metrics(["records_in"], T0, T0)["records_in"] == [(T0, 9)]


def test_publishing_from_many_threads_is_safe(history_backend):
    """Concurrent publishers lose nothing: every item is written exactly once."""
    history = history_backend.history()
    history.start()

    def publish(n):
        for i in range(200):
            history.on_ingest_error({"reason": f"{n}-{i}"})

    threads = [threading.Thread(target=publish, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert history.stop() is True
    assert history_backend.reader().count("errors") == 800


def test_failing_store_at_shutdown_counts_and_logs_what_is_lost(tmp_path, caplog):
    """A store that cannot write gives up soon at stop(), counting and logging the lost items."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    history = History(SqliteStore(blocker / "sub" / "history.sqlite3"))
    history.start()
    for i in range(3):
        history.on_ingest_error({"reason": str(i)})
    began = time.monotonic()
    with caplog.at_level("ERROR", logger="streamdash.history"):
        assert history.stop() is False
    assert time.monotonic() - began < 3
    status = history.status()
    assert status["ok"] is False and status["dropped"] >= 4  # 3 errors + the run rows
    assert any("not written at shutdown" in r.getMessage() for r in caplog.records)


def test_build_history_needs_a_data_dir_and_enabled_storage(tmp_path):
    """No data_dir or storage.enabled=false means no store; otherwise one in the data dir
    (SQLite), or PostgreSQL at storage.url with backend postgres (no data dir needed)."""
    assert build_history(Settings()) is None
    assert build_history(Settings({"data_dir": str(tmp_path),
                                   "storage": {"enabled": False}})) is None
    history = build_history(Settings({"data_dir": str(tmp_path)}))
    assert history is not None and history.store.location == str(tmp_path / "history.sqlite3")
    url = "postgresql://streamdash:PASSWORD-NEVER-SHOWN@127.0.0.1:9/db"
    history = build_history(Settings({"storage": {"backend": "postgres", "url": url}}))
    assert history is not None and history.store.backend == "postgres"
    assert history.status()["location"] == "postgresql://streamdash:***@127.0.0.1:9/db"


def test_the_writer_is_a_service_with_idempotent_start_and_stop(history_backend):
    """start() twice runs one writer thread; stop() twice is harmless and True both times."""
    history = history_backend.history()
    assert isinstance(history, Service) and history.stop() is True  # never started
    history.start()
    history.start()
    assert [t.name for t in threading.enumerate()].count("streamdash-history") == 1
    assert history.stop() is True and not history.alive
    assert history.stop() is True
    assert len(history_backend.reader().runs()) == 1  # one run, recorded once


def test_stop_returns_false_within_its_timeout_when_the_writer_is_held(tmp_path):
    """A writer stuck on another process's lock makes stop(timeout) answer False on time,
    counting what it could not write."""
    path = database_path(tmp_path)
    history = writing(path, StorageOptions(busy_timeout=60))
    with write_locked(path):
        history.record_snapshot({"records_in": 1}, ts=T0)
        began = time.monotonic()
        assert history.stop(0.5) is False
        assert time.monotonic() - began < within(0.5)  # not the 60 s the lock could hold it
        assert history.status()["dropped"] >= 1
    wait_for(lambda: not history.alive)


#: An item each database refuses as data (not as a failure of the store): SQLite cannot bind
#: an integer past 64 bits; PostgreSQL's jsonb holds no NUL character.
REFUSED = {"sqlite": ("errors", 10 ** 30, {"reason": "too big a time"}),
           "postgres": ("snapshot", T0, {"text": "a\x00b"})}


def test_data_the_database_refuses_is_counted_not_retried_forever(history_backend, caplog):
    """A batch holding one item the database refuses: the other items of the batch are
    written, the refused one is counted as rejected and logged, and the writer goes on."""
    history = history_backend.history()
    kind, ts, payload = REFUSED[history_backend.name]
    with caplog.at_level("WARNING", logger="streamdash.history"):
        with history:
            wait_for(lambda: history.status()["written"] >= 1)
            history.on_ingest_error({"ts": T0, "reason": "before"})
            history.put(kind, payload, ts=ts)
            history.on_ingest_error({"ts": T0 + 1, "reason": "after"})
            wait_for(lambda: history.status()["rejected"] == 1)
            history.record_snapshot({"x": 1}, ts=T0 + 2)
            wait_for(lambda: history.status()["last_snapshot_at"] == T0 + 2)
        status = history.status()
    assert status["ok"] and status["rejected"] == 1 and status["dropped"] == 0
    reader = history_backend.reader()
    assert [e["message"] for e in reader.events("errors", 0, 2e9)] == ["after", "before"]
    assert reader.metrics(["x"], T0, T0 + 2)["x"] == [(T0 + 2, 1)]
    assert any("counted as rejected" in r.getMessage() for r in caplog.records)
