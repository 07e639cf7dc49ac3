"""Tests for streamdash.store.history.retention: the row caps and the retention pass, on both
backends.

storage.max_rows holds as rows are written, and the history file gives space back (issue
#13 case 7: 1,000 rejections/s with max_rows 1000 left 39,983 rows and a file that never
shrank, because the cap was applied once an hour)."""

import json
import sqlite3
import threading

from streamdash.store.history import (
    SCHEMA,
    History,
    SqliteReader,
    SqliteStore,
    StorageOptions,
    database_path,
    open_store,
)
from tests.helpers import wait_until

CAP = 100  # the smallest storage.max_rows allowed
PAD = "x" * 1000  # ~1 KB a row, so sizes are easy to reason about
#: The writer takes what is queued every loop (0.2 s when idle); a loaded machine gets ample
#: room, the test still fails quickly when the writer is stuck.
WRITE_TIMEOUT = 30.0


def _rejections(start, n):
    return [{"source": "s", "record": {"i": i, "pad": PAD}, "reasons": []}
            for i in range(start, start + n)]


def _main_file_size(path):
    return path.stat().st_size


def test_rejection_flood_never_leaves_more_rows_than_the_cap(history_backend, tmp_path):
    """10,000 rejections in bursts with max_rows 100: a reader polling throughout never sees
    more than 100 DLQ rows (no slack: the cap is applied in the inserting transaction), and
    the SQLite file stays near 100 rows' size, not 10,000."""
    history = history_backend.history(StorageOptions(max_rows=CAP, retention_days=36500))
    reader = history.reader
    seen, stop = [], threading.Event()

    def poll():
        while not stop.is_set():
            try:
                seen.append(reader.count("dlq"))
            except Exception:  # the schema being created: nothing to count yet
                pass
            stop.wait(0.005)

    poller = threading.Thread(target=poll)
    with history:
        poller.start()
        for burst in range(40):
            history.on_rejections(_rejections(burst * 250, 250))
            if burst % 10 == 9:
                polled = len(seen)  # the reader looks again while the flood goes on
                wait_until(lambda n=polled: len(seen) > n, WRITE_TIMEOUT, "another poll")
                want = (burst + 1) * 250 + 1
                wait_until(lambda n=want: history.status()["written"] >= n, WRITE_TIMEOUT,
                           "the writer to catch up")
        for i in range(20):
            history.record_snapshot({"queue_depth": i}, ts=1e9 + i)
        wait_until(lambda: history.status()["written"] >= 10_000 + 20 + 1, WRITE_TIMEOUT,
                   "every row written")
        stop.set()
        poller.join()
        assert reader.count("dlq") == CAP
        assert [r["record"]["i"] for r in reader.events("dlq", 0, 2e9, CAP)][0] == 9_999
        assert history.status()["capped"] == 10_000 - CAP
        assert max(seen) <= CAP and len(seen) >= 4
    if history_backend.name == "sqlite":
        # 10,000 rows of ~1 KB were written; ~100 are kept and freed pages are reused.
        size = _main_file_size(database_path(tmp_path))
        assert size < 600_000, size  # < 3 x 100 rows + pages


def test_lowering_the_cap_shrinks_an_existing_file(tmp_path):
    """A database created without auto-vacuum (as before this fix) holding 20,000 rows is
    converted at open, capped to max_rows and shrinks on disk."""
    path = database_path(tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(SCHEMA)
        conn.executemany("INSERT INTO dlq (ts, source, reasons, record) VALUES (?, ?, ?, ?)",
                         ((1e9 + i, "s", "[]", json.dumps({"i": i, "pad": PAD}))
                          for i in range(20_000)))
    conn.close()
    before = _main_file_size(path)
    assert before > 20_000_000
    options = StorageOptions(max_rows=CAP, retention_days=36500)
    history = History(SqliteStore(path), options)
    with history:
        wait_until(lambda: history.status()["written"] >= 1, WRITE_TIMEOUT, "the first write")
        wait_until(lambda: _main_file_size(path) < before / 20, WRITE_TIMEOUT,
                   "the file to shrink")
    assert SqliteReader(path).count("dlq") == CAP
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    conn.close()


def test_retention_prunes_old_rows_and_caps_tables(history_backend):
    """Rows older than the retention are deleted, and event tables keep at most max_rows."""
    now = [1_000_000.0]
    options = StorageOptions(retention_days=1, max_rows=100, prune_interval=1)
    reader = history_backend.reader()
    with history_backend.history(options, clock=lambda: now[0]) as history:
        history.record_snapshot({"x": 1}, ts=now[0] - 3 * 86400)
        history.record_snapshot({"x": 2}, ts=now[0] - 10)
        for i in range(150):
            history.on_ingest_error({"ts": now[0] - 5, "reason": f"e{i}"})
        wait_until(lambda: history.status()["written"] >= 153)
        now[0] += 2  # the next prune is due
        wait_until(lambda: reader.count("errors") == 100 and reader.count("snapshots") == 1)
    assert reader.metrics(["x"], 0, 2e6)["x"] == [(now[0] - 12, 2)]
    assert reader.events("errors", 0, 2e6, limit=1)[0]["message"] == "e149"


def test_insert_capped_keeps_the_newest_rows_of_a_batch_longer_than_the_cap(history_backend):
    """A batch of 250 errors with a cap of 100 inserts only its newest 100 and reports 150
    rows not kept, in one transaction; a second batch pushes the oldest out."""
    store = open_store(history_backend.location)
    try:
        items = [("errors", float(i), {"reason": f"e{i}"}) for i in range(250)]
        assert store.write(items, CAP) == 150
        oldest = store.reader.events("errors", 0, 1e3, limit=CAP + 1)
        assert len(oldest) == CAP and oldest[-1]["message"] == "e150"
        assert store.write([("errors", 300.0, {"reason": "new"})], CAP) == 1
        assert store.reader.count("errors") == CAP
    finally:
        store.disconnect()


def test_prune_deletes_rows_and_runs_older_than_the_cutoff(history_backend):
    """prune() removes every table's rows before the cutoff (runs by their start) and counts
    them; newer rows stay."""
    store = open_store(history_backend.location)
    try:
        store.write([("snapshot", 10.0, {"x": 1}), ("snapshot", 30.0, {"x": 2}),
                     ("alerts", 10.0, {"name": "a"}), ("run_start", 10.0, {}),
                     ("run_start", 30.0, {})], CAP)
        assert store.prune(cutoff=20.0, max_rows=CAP) == 3
        reader = store.reader
        assert reader.count("snapshots") == 1 and reader.count("alerts") == 0
        assert [r["started"] for r in reader.runs()] == [30.0]
    finally:
        store.disconnect()
