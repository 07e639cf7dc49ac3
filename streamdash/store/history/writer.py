"""The history writer: one thread that batches queued items into SQLite transactions.

Publishers (event-bus subscribers, the metrics reporter) only put items on a bounded queue and
return at once, so the pipeline never waits on disk; when that queue is full the item is
dropped and counted (``dropped`` in :meth:`History.status`). When SQLite fails (disk full,
database locked by another process, file removed) the writer logs it, keeps what it could not
write (bounded, counted when it must let go), reports the problem in ``status()`` (and so in
``/health``) and retries with backoff; the pipeline runs on regardless. Retention and the row
caps are in ``retention.py``.
"""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...logs import log_event
from ...threads import Background, ThreadRunner
from .options import StorageOptions, database_path, storage_options
from .reader import HistoryReader
from .retention import insert_capped, prune
from .rows import Item, event_time, item_size
from .schema import open_database

log = logging.getLogger("streamdash.history")

#: Seconds of ``stop(timeout)`` kept for closing and joining (at most a quarter of it): the
#: writer spends the rest writing what is queued.
CLOSE_MARGIN = 1.0


class History(Background):
    """Persists snapshots and events from its own thread; see the module docstring.

    A :class:`~streamdash.threads.Service`: ``start()`` opens the database (creating it) and
    starts the writer; ``stop(timeout)`` writes what is queued, closes and joins, all within
    ``timeout``. Both are idempotent. ``connect`` is injectable so tests can impose real SQLite
    limits (e.g. ``PRAGMA max_page_count`` for a full disk).
    """

    def __init__(self, path: str | os.PathLike, options: StorageOptions | None = None, *,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 connect: Callable[..., sqlite3.Connection] = sqlite3.connect):
        self.path = Path(path)
        self.options = options or StorageOptions()
        self.clock = clock
        self.monotonic = monotonic
        self.reader = HistoryReader(self.path)
        self._connect_fn = connect
        self._queue: queue.Queue = queue.Queue(self.options.queue_size)
        self._pending: list[Item] = []
        self._runner = ThreadRunner("history", self._run)
        self._started = False
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # guards the status fields below
        self._written = 0
        self._dropped = 0
        self._capped = 0
        self._error: str | None = None
        self._error_since: float | None = None
        self._errors = 0
        self._last_write: float | None = None
        self._last_snapshot: float | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._next_prune = 0.0
        self._last_error_log = -1e18
        self._write_for = 3.0  # seconds the writer keeps writing once asked to stop

    # -- publishing (any thread; never blocks) ---------------------------------------------------
    def put(self, kind: str, payload: Any, ts: float | None = None) -> bool:
        """Queue one item for writing; False (and counted as dropped) when the queue is full."""
        item = (kind, self.clock() if ts is None else ts, payload)
        try:
            self._queue.put_nowait(item)
            return True
        except queue.Full:
            with self._lock:
                self._dropped += item_size(item)
            return False

    def record_snapshot(self, values: dict[str, Any], ts: float | None = None) -> bool:
        """Queue one metrics snapshot (``name → number``)."""
        return self.put("snapshot", values, ts)

    def on_alert(self, payload: Any) -> None:
        """Event-bus subscriber for ``alert`` (one transition)."""
        self.put("alerts", payload, event_time(payload, self.clock()))

    def on_ingest_error(self, payload: Any) -> None:
        """Event-bus subscriber for ``ingest_error`` (one failed attempt)."""
        self.put("errors", payload, event_time(payload, self.clock()))

    def on_rejections(self, payload: Any) -> None:
        """Event-bus subscriber for ``rejections`` (a list of quarantined records: ``Rejection``
        objects, or their ``to_dict()`` dicts).

        The whole list is one queue item, its times parsed by the writer: the consumer pays
        one queue operation per batch.
        """
        items = payload if isinstance(payload, list) else [payload]
        if items:
            self.put("dlq_batch", items)

    def on_windows(self, payload: Any) -> None:
        """Event-bus subscriber for ``window`` (a list of closed windows). Rows are stamped
        with the time the windows closed (processing time, like every other table, so
        retention and the API's ``since``/``until`` work the same for replayed old data);
        each window's own ``start``/``end`` stay in its data."""
        items = payload if isinstance(payload, list) else [payload]
        if items:
            self.put("windows_batch", items)

    def subscriptions(self) -> dict[str, Callable[[Any], None]]:
        """Event-bus topic → subscriber, for the runtime to wire."""
        return {"alert": self.on_alert, "ingest_error": self.on_ingest_error,
                "rejections": self.on_rejections, "window": self.on_windows}

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the database and start the writer thread; records this run in ``runs``."""
        if self._runner.alive:
            return
        from ..._version import __version__

        self._started = True
        self.put("run_start", {"version": __version__})
        # Create the file before the app serves, so the API can read it from the first request
        # (not 503 "no history database" until the writer's first flush). A failure is left to
        # the writer, which retries and reports it in status().
        if self._conn is None:
            try:
                self._conn = self._open()
            except (sqlite3.Error, OSError):
                pass
        self._runner.start()

    def stop(self, timeout: float = 4.0) -> bool:
        """Write what is queued, close and join, within ``timeout`` seconds; True when the
        writer ended in time and wrote everything (what it could not is counted and logged)."""
        if not self._started:
            return True
        self._started = False
        self.put("run_stop", {})
        self._write_for = timeout - min(CLOSE_MARGIN, timeout / 4)
        ended = self._runner.stop(timeout)
        with self._lock:  # what is still here is lost: count it once, keep nothing
            left = sum(map(item_size, self._pending))
            self._pending.clear()
        while True:
            try:
                left += item_size(self._queue.get_nowait())
            except queue.Empty:
                break
        if left:
            with self._lock:
                self._dropped += left
            log_event(log, logging.ERROR, "history items not written at shutdown",
                      items=left, path=str(self.path), error=self._error)
        return ended and left == 0

    def status(self) -> dict[str, Any]:
        """Health of the store: ``ok``, the last error, counts written/dropped/pending."""
        with self._lock:
            return {"enabled": True, "ok": self._error is None, "path": str(self.path),
                    "error": self._error, "error_since": self._error_since,
                    "errors": self._errors, "written": self._written, "dropped": self._dropped,
                    "capped": self._capped,
                    "pending": len(self._pending), "queue": {"depth": self._queue.qsize(),
                                                             "capacity": self._queue.maxsize},
                    "last_write_at": self._last_write, "last_snapshot_at": self._last_snapshot,
                    "writer_alive": self.alive}

    # -- the writer thread -------------------------------------------------------------------------
    def _run(self) -> None:
        stopping = self._runner.stopping
        while not stopping.is_set():
            self._take(timeout=0.2)
            if self._pending and self.monotonic() >= self._retry_at:
                self._flush()
            if self._conn is not None and self.clock() >= self._next_prune:
                self._prune()
        # Shutdown: write everything queued (bounded by the stop timeout); a failing store gets
        # a few quick retries, then what is left is counted and logged by stop().
        deadline = self.monotonic() + self._write_for
        retries = 5
        while True:
            self._take(timeout=0)
            if not self._pending:
                break
            self._flush()
            if self._pending:
                retries -= 1
                if retries <= 0 or self.monotonic() >= deadline:
                    break
                time.sleep(0.1)  # a failing store: a short pause between the last retries
        self._close()

    def _take(self, timeout: float) -> None:
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return
        batch = [item]
        while len(batch) < 5000:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        with self._lock:
            self._pending.extend(batch)
            overflow = len(self._pending) - self.options.queue_size
            if overflow > 0:  # failing for long: keep the newest, count what we let go
                self._dropped += sum(map(item_size, self._pending[:overflow]))
                del self._pending[:overflow]

    def _open(self) -> sqlite3.Connection:
        return open_database(self.path, self.options.busy_timeout, self._connect_fn)

    def _flush(self) -> None:
        with self._lock:
            items = list(self._pending)
        try:
            if self._conn is None:
                self._conn = self._open()
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                capped = insert_capped(conn, items, self.options.max_rows)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)
            return
        snaps = [ts for kind, ts, _ in items if kind == "snapshot"]
        with self._lock:
            del self._pending[:len(items)]
            self._written += sum(map(item_size, items))
            self._capped += capped
            self._last_write = self.clock()
            if snaps:
                self._last_snapshot = max(snaps)
            recovered, self._error, self._error_since = self._error, None, None
            self._failures = 0
        if recovered:
            log_event(log, logging.WARNING, "history storage recovered", path=str(self.path),
                      was=recovered)

    def _failed(self, exc: Exception) -> None:
        message = f"{type(exc).__name__}: {exc}"
        with self._lock:
            first = self._error is None
            self._error = message
            self._errors += 1
            self._error_since = self._error_since or self.clock()
            self._failures += 1
            delay = min(30.0, 0.25 * 2 ** (self._failures - 1))
        self._retry_at = self.monotonic() + delay
        self._close()  # reopen on the next attempt (the file may be gone or replaced)
        now = self.monotonic()
        if first or now - self._last_error_log >= 60:
            self._last_error_log = now
            log_event(log, logging.ERROR, "history storage failing; the pipeline continues",
                      path=str(self.path), error=message, pending=len(self._pending),
                      retry_in_s=round(delay, 2))

    def _prune(self) -> None:
        cutoff = self.clock() - self.options.retention_days * 86400
        self._next_prune = self.clock() + self.options.prune_interval
        assert self._conn is not None
        try:
            removed = prune(self._conn, cutoff, self.options.max_rows)
        except sqlite3.Error as exc:
            self._failed(exc)
            return
        if removed:
            log_event(log, logging.INFO, "history pruned", rows=removed,
                      retention_days=self.options.retention_days)

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None


def disabled_status(reason: str = "no data_dir configured") -> dict[str, Any]:
    """``status()`` of a runtime without persistence."""
    return {"enabled": False, "ok": True, "reason": reason}


def build_history(settings: Any, options: StorageOptions | None = None, *,
                  clock: Callable[[], float] = time.time,
                  monotonic: Callable[[], float] = time.monotonic) -> History | None:
    """The history store the settings ask for: ``None`` without a ``data_dir`` or when
    ``storage.enabled`` is false."""
    options = options or storage_options(settings.section("storage"))
    data_dir = settings.get("data_dir")
    if not options.enabled or not data_dir:
        return None
    return History(database_path(data_dir), options, clock=clock, monotonic=monotonic)
