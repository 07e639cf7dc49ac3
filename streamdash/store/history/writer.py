"""The history writer: one thread that batches queued items into transactions of a store.

The same for both backends (``base.HistoryStore``: SQLite or PostgreSQL). Publishers (event-bus
subscribers, the metrics reporter) only put items on a bounded queue and return at once, so the
pipeline never waits on a database; when that queue is full the item is dropped and counted
(``dropped`` in :meth:`History.status`). When the store fails (disk full, database locked by
another process, file removed, PostgreSQL down or unreachable) the writer logs it, keeps what
it could not write in a bounded local buffer (``storage.queue_size`` items; the oldest are let
go and counted when it must), reports the problem in ``status()`` (and so in ``/health``:
``buffering``) and retries with backoff, writing the buffer once the store is back; the
pipeline runs on regardless. Data a database refuses (not a failure of the store) is written
item by item and what is refused is counted (``rejected``) and logged, never retried forever.
Retention and the row caps are in ``retention.py``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from ...logs import log_event
from ...threads import Background, ThreadRunner
from .base import HistoryStore, RejectedRows, one_line
from .options import StorageOptions
from .rows import Item, event_time, item_size

log = logging.getLogger("streamdash.history")

#: Seconds of ``stop(timeout)`` kept for closing and joining (at most a quarter of it): the
#: writer spends the rest writing what is queued.
CLOSE_MARGIN = 1.0
#: Longest wait between two attempts of a failing store (the backoff doubles up to it).
MAX_BACKOFF = 30.0


class History(Background):
    """Persists snapshots and events from its own thread; see the module docstring.

    A :class:`~streamdash.threads.Service`: ``start()`` opens the store (creating or migrating
    its schema) and starts the writer; ``stop(timeout)`` writes what is queued, closes and
    joins, all within ``timeout``. Both are idempotent. ``reader`` reads the same store.
    """

    def __init__(self, store: HistoryStore, options: StorageOptions | None = None, *,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic):
        self.store = store
        self.options = options or StorageOptions()
        self.clock = clock
        self.monotonic = monotonic
        self.reader = store.reader
        self._queue: queue.Queue = queue.Queue(self.options.queue_size)
        self._pending: list[Item] = []
        self._runner = ThreadRunner("history", self._run)
        self._started = False
        self._connected = False
        self._run_started = 0.0
        self._lock = threading.Lock()  # guards the status fields below
        self._written = 0
        self._dropped = 0
        self._capped = 0
        self._rejected = 0
        self._error: str | None = None
        self._error_since: float | None = None
        self._errors = 0
        self._last_write: float | None = None
        self._last_snapshot: float | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._next_prune = 0.0
        self._last_error_log = -1e18
        self._stop_deadline = float("inf")  # when the writer gives up writing, once stopping

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
        """Open the store and start the writer thread; records this run in ``runs``."""
        if self._runner.alive:
            return
        from ..._version import __version__

        self._started = True
        self._run_started = self.clock()
        self.put("run_start", {"version": __version__}, ts=self._run_started)
        # Create the schema before the app serves, so the API can read it from the first
        # request (not 503 "no history database" until the writer's first flush). A failure
        # is left to the writer, which retries and reports it in status().
        self._connect(quiet=True)
        self.store.start_readers()
        self._runner.start()

    def stop(self, timeout: float = 4.0) -> bool:
        """Write what is queued, close and join, within ``timeout`` seconds; True when the
        writer ended in time and wrote everything (what it could not is counted and logged).
        A writer still inside a statement when its time is up (a lock held elsewhere, a slow
        server) has the statement cancelled."""
        if not self._started:
            return True
        self._started = False
        self.put("run_stop", {"started": self._run_started})
        write_for = timeout - min(CLOSE_MARGIN, timeout / 4)
        began = self.monotonic()
        self._stop_deadline = began + write_for
        ended = self._runner.stop(write_for)
        if not ended:
            self.store.interrupt()
            ended = self._runner.join(max(0.0, timeout - (self.monotonic() - began)))
        self.store.stop_readers()
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
                      items=left, location=self.store.location, error=self._error)
        return ended and left == 0

    def status(self) -> dict[str, Any]:
        """Health of the store: which backend and where, ``ok``, the last error, whether it
        is buffering locally (failing with items kept), counts written/dropped/rejected."""
        with self._lock:
            return {"enabled": True, "backend": self.store.backend, "ok": self._error is None,
                    "location": self.store.location,
                    "buffering": self._error is not None and bool(self._pending),
                    "error": self._error, "error_since": self._error_since,
                    "errors": self._errors, "written": self._written, "dropped": self._dropped,
                    "capped": self._capped, "rejected": self._rejected,
                    "pending": len(self._pending),
                    "queue": {"depth": self._queue.qsize(), "capacity": self._queue.maxsize},
                    "last_write_at": self._last_write, "last_snapshot_at": self._last_snapshot,
                    "writer_alive": self.alive}

    # -- the writer thread -------------------------------------------------------------------------
    def _run(self) -> None:
        stopping = self._runner.stopping
        while not stopping.is_set():
            self._take(timeout=0.2)
            if self._pending and self.monotonic() >= self._retry_at:
                self._flush()
            if self._connected and self.clock() >= self._next_prune:
                self._prune()
        # Shutdown: write everything queued until the deadline stop() set; a failing store
        # gets a few quick retries, then what is left is counted and logged by stop().
        retries = 5
        while True:
            self._take(timeout=0)
            if not self._pending or self.monotonic() >= self._stop_deadline:
                break
            self._flush()
            if self._pending:
                retries -= 1
                if retries <= 0:
                    break
                time.sleep(0.1)  # a failing store: a short pause between the last retries
        self._disconnect()

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

    def _connect(self, quiet: bool = False) -> None:
        if self._connected:
            return
        try:
            self.store.connect()
        except self.store.failures as exc:
            if not quiet:
                raise
            log_event(log, logging.DEBUG, "history store not reachable yet", error=str(exc))
            return
        self._connected = True

    def _flush(self) -> None:
        with self._lock:
            items = list(self._pending)
        try:
            self._connect()
            try:
                self._written_out(items, self.store.write(items, self.options.max_rows), 0)
            except RejectedRows as exc:
                self._write_each(items, exc)
        except self.store.failures as exc:
            self._failed(exc)
            return
        with self._lock:
            recovered, self._error, self._error_since = self._error, None, None
            self._failures = 0
        if recovered:
            log_event(log, logging.WARNING, "history storage recovered",
                      location=self.store.location, was=recovered)

    def _written_out(self, items: list[Item], capped: int, rejected: int) -> None:
        """``items`` (the head of the buffer) are done with: out of the buffer, counted."""
        snaps = [ts for kind, ts, _ in items if kind == "snapshot"]
        with self._lock:
            del self._pending[:len(items)]
            self._written += sum(map(item_size, items)) - rejected
            self._capped += capped
            self._rejected += rejected
            self._last_write = self.clock()
            if snaps:
                self._last_snapshot = max(snaps)

    def _write_each(self, items: list[Item], first: RejectedRows) -> None:
        """Write ``items`` one transaction each after the database refused their batch,
        counting the rows it refuses. A store failure meanwhile propagates (the writer retries
        what is left; what was written is out of the buffer, so nothing is written twice)."""
        log_event(log, logging.WARNING, "history batch refused by the database; writing its "
                  "items one by one", location=self.store.location, error=str(first))
        for item in items:
            try:
                capped, rejected = self.store.write([item], self.options.max_rows), 0
            except RejectedRows as exc:
                capped, rejected = 0, item_size(item)
                log_event(log, logging.ERROR, "history rows refused by the database; counted "
                          "as rejected", kind=item[0], rows=rejected,
                          location=self.store.location, error=str(exc))
            self._written_out([item], capped, rejected)

    def _failed(self, exc: BaseException) -> None:
        message = one_line(exc)
        with self._lock:
            first = self._error is None
            self._failures += 1
            delay = min(MAX_BACKOFF, 0.25 * 2 ** (self._failures - 1))
        now = self.monotonic()
        if first or now - self._last_error_log >= 60:  # logged before status() shows it
            self._last_error_log = now
            log_event(log, logging.ERROR, "history storage failing; the pipeline continues",
                      location=self.store.location, error=message,
                      pending=len(self._pending), retry_in_s=round(delay, 2))
        with self._lock:
            self._error = message
            self._errors += 1
            self._error_since = self._error_since or self.clock()
        self._retry_at = self.monotonic() + delay
        self._disconnect()  # reconnect on the next attempt (the file or server may be new)

    def _prune(self) -> None:
        cutoff = self.clock() - self.options.retention_days * 86400
        self._next_prune = self.clock() + self.options.prune_interval
        try:
            removed = self.store.prune(cutoff, self.options.max_rows)
        except self.store.failures as exc:
            self._failed(exc)
            return
        if removed:
            log_event(log, logging.INFO, "history pruned", rows=removed,
                      retention_days=self.options.retention_days)

    def _disconnect(self) -> None:
        self._connected = False
        self.store.disconnect()


def disabled_status(reason: str = "no data_dir configured") -> dict[str, Any]:
    """``status()`` of a runtime without persistence."""
    return {"enabled": False, "ok": True, "reason": reason}
