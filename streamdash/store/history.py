"""SQLite persistence of what the pipeline did: metrics snapshots, alerts, quarantine, errors,
closed windows.

One :class:`History` per runtime writes ``<data_dir>/history.sqlite3`` (WAL mode) from its own
thread. Publishers (event-bus subscribers, the metrics reporter) only put items on a bounded
queue and return at once, so the pipeline never waits on disk; when that queue is full the item
is dropped and counted (``dropped`` in :meth:`History.status`). When SQLite fails (disk full,
database locked by another process, file removed) the writer logs it, keeps what it could not
write (bounded, counted when it must let go), reports the problem in ``status()`` (and so in
``/health``) and retries with backoff; the pipeline runs on regardless.

Readers (:class:`HistoryReader`: the HTTP API, ``streamdash metrics``) open their own read-only
connections, which WAL lets run beside the writer.

Tables (``ts`` is epoch seconds, UTC)::

    snapshots(ts, data)                          one row per metrics snapshot, data = JSON object
    alerts(id, ts, rule, state, severity, data)  alert transitions
    dlq(id, ts, source, reasons, record)         quarantined records
    errors(id, ts, source, kind, message, data)  ingestion errors
    windows(id, ts, key, data)                   closed event-time windows (ts = when closed)
    runs(id, started, stopped, version)          one row per runtime start (restarts)

Retention (``storage.retention_days``, default 7) is applied at start and every
``storage.prune_interval`` seconds. ``storage.max_rows`` caps every table but ``runs`` as rows
are written: the transaction that inserts a batch also deletes the rows whose row id is more
than ``max_rows`` below the newest, so no reader ever sees more than ``max_rows`` rows in a
table (row ids grow by one per insert; deleting by row id range is an index walk). The file
uses ``auto_vacuum = INCREMENTAL`` (an existing file is converted once, by a ``VACUUM`` at
open): pages freed by the cap are reused by new rows, and every prune hands free pages back
to the file system (``incremental_vacuum`` and a WAL checkpoint), so the file shrinks after
``max_rows`` or ``retention_days`` is lowered.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..config import ranged
from ..errors import ConfigError, QueryTooSlow, StorageUnavailable, unknown_key
from ..logs import log_event

log = logging.getLogger("streamdash.history")

FILENAME = "history.sqlite3"
SCHEMA_VERSION = 1
EVENT_TABLES = ("alerts", "dlq", "errors", "windows")
#: Tables ``storage.max_rows`` caps (``runs`` holds one row per start).
CAPPED_TABLES = ("snapshots",) + EVENT_TABLES
#: Largest WAL file kept between checkpoints (bytes); a large batch may grow it past this,
#: the next checkpoint truncates it back.
WAL_SIZE_LIMIT = 64 * 1024 * 1024
#: Queue items that carry a list of events (one queue operation per batch), and their table.
BATCH_KINDS = {"dlq_batch": "dlq", "windows_batch": "windows"}
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS snapshots (ts REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS snapshots_ts ON snapshots (ts);
CREATE TABLE IF NOT EXISTS alerts (id INTEGER PRIMARY KEY, ts REAL NOT NULL, rule TEXT,
                                   state TEXT, severity TEXT, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_ts ON alerts (ts);
CREATE TABLE IF NOT EXISTS dlq (id INTEGER PRIMARY KEY, ts REAL NOT NULL, source TEXT,
                                reasons TEXT NOT NULL, record TEXT);
CREATE INDEX IF NOT EXISTS dlq_ts ON dlq (ts);
CREATE TABLE IF NOT EXISTS errors (id INTEGER PRIMARY KEY, ts REAL NOT NULL, source TEXT,
                                   kind TEXT, message TEXT, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS errors_ts ON errors (ts);
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, started REAL NOT NULL, stopped REAL,
                                 version TEXT);
CREATE TABLE IF NOT EXISTS windows (id INTEGER PRIMARY KEY, ts REAL NOT NULL, key TEXT,
                                    data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS windows_ts ON windows (ts);
"""


# -- settings ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StorageOptions:
    """The ``storage.*`` settings (an open section validated here)."""

    enabled: bool = True
    snapshot_interval: float = 10.0
    retention_days: float = 7.0
    prune_interval: float = 3600.0
    queue_size: int = 10_000
    max_rows: int = 1_000_000
    busy_timeout: float = 2.0


_LIMITS = {"snapshot_interval": (0.05, 86400.0), "retention_days": (0.0001, 36500.0),
           "prune_interval": (1.0, 86400.0), "queue_size": (10, 10_000_000),
           "max_rows": (100, 1_000_000_000), "busy_timeout": (0.0, 60.0)}


def storage_options(section: dict[str, Any]) -> StorageOptions:
    """Validate the ``storage`` settings section; a bad key or value raises ``ConfigError``."""
    defaults = StorageOptions()
    known = sorted(StorageOptions.__dataclass_fields__)
    values: dict[str, Any] = {}
    for key, raw in (section or {}).items():
        dotted = f"storage.{key}"
        if key not in known:
            raise unknown_key(dotted, key, known, what="setting in 'storage'")
        if key == "enabled":
            if not isinstance(raw, bool):
                raise ConfigError(dotted, f"expected true or false, got {raw!r}")
            values[key] = raw
            continue
        values[key] = ranged(type(getattr(defaults, key)), *_LIMITS[key])(dotted, raw)
    return StorageOptions(**values)


def database_path(data_dir: str | os.PathLike) -> Path:
    """Where the history database of ``data_dir`` lives."""
    return Path(data_dir) / FILENAME


# -- event payloads --------------------------------------------------------------------------------
def event_time(payload: Any, default: float) -> float:
    """Epoch seconds of an event: its ``ts``/``at``/``time`` field (epoch or ISO) or ``default``."""
    if isinstance(payload, dict):
        for key in ("ts", "at_ts", "at", "time", "starts_at"):
            value = payload.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            if isinstance(value, str):
                try:
                    return datetime.fromisoformat(value.replace("z", "Z")).timestamp()
                except ValueError:
                    continue
    return default


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _text(payload: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = payload.get(key)
        if value is not None:
            return str(value)
    return None


def _size(item: tuple[str, float, Any]) -> int:
    """Rows one queued item becomes (a ``dlq_batch`` or ``windows_batch`` holds many)."""
    return len(item[2]) if item[0] in BATCH_KINDS else 1


def _table(item: tuple[str, float, Any]) -> str | None:
    """The capped table one queued item writes to (``None`` for ``runs``)."""
    kind = item[0]
    table = BATCH_KINDS.get(kind) or ("snapshots" if kind == "snapshot" else kind)
    return table if table in CAPPED_TABLES else None


def _statements(item: tuple[str, float, Any]) -> tuple[str, list[tuple[Any, ...]]]:
    """The statement and the parameter rows of one queued item (for ``executemany``)."""
    kind, ts, payload = item
    table = BATCH_KINDS.get(kind)
    if table is not None:  # [event dict, …]: one queue item per batch of events
        # Rejections come as objects that find their reasons when asked: here, off the
        # pipeline's thread (see Quarantine).
        payload = [p.to_dict() if hasattr(p, "to_dict") else p for p in payload]
        rows = [_rows(table, event_time(p, ts), p) for p in payload]
        return (rows[0][0] if rows else _rows(table, ts, {})[0]), [r[1] for r in rows]
    sql, params = _rows(kind, ts, payload)
    return sql, [params]


def _rows(kind: str, ts: float, payload: Any) -> tuple[str, tuple[Any, ...]]:
    """The INSERT statement and parameters for one queued item."""
    data = payload if isinstance(payload, dict) else {"value": payload}
    if kind == "snapshot":
        return "INSERT INTO snapshots (ts, data) VALUES (?, ?)", (ts, _json(payload))
    if kind == "alerts":
        return ("INSERT INTO alerts (ts, rule, state, severity, data) VALUES (?, ?, ?, ?, ?)",
                (ts, _text(data, "rule", "name", "alertname"), _text(data, "state", "status"),
                 _text(data, "severity", "level"), _json(data)))
    if kind == "dlq":
        return ("INSERT INTO dlq (ts, source, reasons, record) VALUES (?, ?, ?, ?)",
                (ts, _text(data, "source"), _json(data.get("reasons", [])),
                 _json(data.get("record"))))
    if kind == "errors":
        return ("INSERT INTO errors (ts, source, kind, message, data) VALUES (?, ?, ?, ?, ?)",
                (ts, _text(data, "source"), _text(data, "kind", "type"),
                 _text(data, "reason", "message", "error"), _json(data)))
    if kind == "windows":
        return ("INSERT INTO windows (ts, key, data) VALUES (?, ?, ?)",
                (ts, _text(data, "key"), _json(data)))
    if kind == "run_start":
        return "INSERT INTO runs (started, version) VALUES (?, ?)", (ts, _text(data, "version"))
    if kind == "run_stop":
        return ("UPDATE runs SET stopped = ? WHERE id = (SELECT MAX(id) FROM runs)", (ts,))
    raise ValueError(f"unknown history item kind {kind!r}")


# -- reading ---------------------------------------------------------------------------------------
class HistoryReader:
    """Read-only queries on a history database; every call opens its own connection.

    With ``max_seconds`` every query is interrupted (``QueryTooSlow``) once it has run that
    long: a client's query over a long range cannot hold a server thread for minutes.
    """

    def __init__(self, path: str | os.PathLike, timeout: float = 5.0,
                 max_seconds: float | None = None):
        self.path = Path(path)
        self.timeout = timeout
        self.max_seconds = max_seconds

    def limited(self, max_seconds: float) -> HistoryReader:
        """The same reader with every query bounded to ``max_seconds``."""
        return HistoryReader(self.path, self.timeout, max_seconds)

    def _connect(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise StorageUnavailable(f"no history database at {self.path}")
        try:
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                   timeout=self.timeout)
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"cannot open {self.path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        return conn

    def _select(self, sql: str, params: Iterable[Any]) -> list[sqlite3.Row]:
        conn = self._connect()
        if self.max_seconds is not None:
            deadline = time.monotonic() + self.max_seconds
            # Called every 10,000 SQLite VM steps (~a millisecond): non-zero interrupts.
            conn.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
        try:
            return conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.OperationalError as exc:
            if self.max_seconds is not None and "interrupt" in str(exc):
                raise QueryTooSlow(f"query stopped after {self.max_seconds:g} s") from None
            raise StorageUnavailable(f"cannot read {self.path}: {exc}") from None
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"cannot read {self.path}: {exc}") from None
        finally:
            conn.close()

    def metrics(self, names: Iterable[str], since: float, until: float,
                limit: int = 10_000) -> dict[str, list[tuple[float, float | None]]]:
        """``name → [(ts, value), …]`` oldest first, the newest ``limit`` points per name."""
        out: dict[str, list[tuple[float, float | None]]] = {}
        for name in names:
            rows = self._select(
                "SELECT ts, json_extract(data, ?) AS v FROM snapshots WHERE ts >= ? AND ts <= ? "
                "ORDER BY ts DESC LIMIT ?", (f'$."{name}"', since, until, limit))
            out[name] = [(r["ts"], r["v"]) for r in reversed(rows)]
        return out

    def metric_buckets(self, names: Iterable[str], since: float, until: float, step: float,
                       peak: Iterable[str] = ()) -> dict[str, list[tuple[float, float | None]]]:
        """Snapshot values averaged per ``step``-second bucket of ``[since, until]``, in SQL.

        ``name → [(mean ts, mean value), …]`` oldest first, one point per bucket holding
        snapshots, so the answer stays bounded (``(until - since) / step + 1`` points) however
        many snapshots the range holds; names in ``peak`` take the bucket's maximum instead.
        ``None`` values are skipped (a bucket of only ``None`` gives ``None``). One query.
        """
        names, peak = list(names), set(peak)
        if step <= 0:
            raise ValueError(f"step must be positive, got {step!r}")
        if not names:
            return {}
        cols = ", ".join(f"{'MAX' if n in peak else 'AVG'}(json_extract(data, ?))"
                         for n in names)
        rows = self._select(
            f"SELECT AVG(ts), {cols} FROM snapshots WHERE ts >= ? AND ts <= ? "  # noqa: S608
            "GROUP BY CAST((ts - ?) / ? AS INTEGER) ORDER BY 1",
            [*(f'$."{n}"' for n in names), since, until, since, step])
        return {n: [(r[0], r[i]) for r in rows] for i, n in enumerate(names, start=1)}

    def snapshots(self, since: float, until: float, limit: int = 10_000) -> list[dict[str, Any]]:
        """Whole snapshots (``{"ts": …, **values}``) oldest first, the newest ``limit``."""
        rows = self._select("SELECT ts, data FROM snapshots WHERE ts >= ? AND ts <= ? "
                            "ORDER BY ts DESC LIMIT ?", (since, until, limit))
        return [{"ts": r["ts"], **json.loads(r["data"])} for r in reversed(rows)]

    def metric_page(self, names: Iterable[str], since: float, until: float, limit: int,
                    before: tuple[float, int] | None = None
                    ) -> list[tuple[float, int, list[float | None]]]:
        """The newest ``limit`` snapshots of ``[since, until]`` older than ``before``
        (``(ts, rowid)``, a page cursor), newest first: ``(ts, rowid, [value per name])``. One
        query, so every name's series has the same times."""
        names = list(names)
        cols = "".join(", json_extract(data, ?)" for _ in names)
        older = " AND ts <= ? AND (ts, rowid) < (?, ?)" if before is not None else ""
        params = [*(f'$."{n}"' for n in names), since, until]
        params += [before[0], *before] if before is not None else []
        rows = self._select(f"SELECT ts, rowid{cols} FROM snapshots "  # noqa: S608
                            f"WHERE ts >= ? AND ts <= ?{older} "
                            "ORDER BY ts DESC, rowid DESC LIMIT ?", [*params, limit])
        return [(r[0], r[1], list(r[2:])) for r in rows]

    def events(self, table: str, since: float, until: float, limit: int = 1000,
               key: str | None = None, *, state: str | None = None,
               before: tuple[float, int] | None = None) -> list[dict[str, Any]]:
        """Rows of ``alerts``, ``dlq``, ``errors`` or ``windows`` newest first, JSON columns
        decoded; ``key`` keeps only the windows of that key, ``state`` only the alert
        transitions to it, ``before`` (``(ts, id)``, a page cursor) only older rows."""
        if table not in EVENT_TABLES:
            raise ValueError(f"unknown history table {table!r}")
        if key is not None and table != "windows":
            raise ValueError("only windows are selected by key")
        if state is not None and table != "alerts":
            raise ValueError("only alerts are selected by state")
        by_key = " AND key = ?" if key is not None else ""
        by_key += " AND state = ?" if state is not None else ""
        by_key += " AND ts <= ? AND (ts, id) < (?, ?)" if before is not None else ""
        params = (since, until) + ((key,) if key is not None else ()) \
            + ((state,) if state is not None else ()) \
            + ((before[0], *before) if before is not None else ()) + (limit,)
        rows = self._select(f"SELECT * FROM {table} WHERE ts >= ? AND ts <= ?{by_key} "  # noqa: S608
                            "ORDER BY ts DESC, id DESC LIMIT ?", params)
        out = []
        for row in rows:
            item = dict(row)
            for key in ("data", "reasons", "record"):
                if isinstance(item.get(key), str):
                    item[key] = json.loads(item[key])
            out.append(item)
        return out

    def runs(self) -> list[dict[str, Any]]:
        """Every runtime start (and stop, when it was clean), oldest first."""
        return [dict(r) for r in self._select("SELECT * FROM runs ORDER BY id", ())]

    def count(self, table: str) -> int:
        """Rows in one table."""
        if table not in EVENT_TABLES + ("snapshots", "runs"):
            raise ValueError(f"unknown history table {table!r}")
        return self._select(f"SELECT COUNT(*) AS n FROM {table}", ())[0]["n"]  # noqa: S608

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` answer (``"ok"`` when sound)."""
        return self._select("PRAGMA integrity_check", ())[0][0]


# -- writing ---------------------------------------------------------------------------------------
class History:
    """Persists snapshots and events from its own thread; see the module docstring.

    ``start()`` opens the database (creating it) and starts the writer; ``stop()`` writes what is
    queued (bounded by ``timeout``) and joins. Both are idempotent. ``connect`` is injectable so
    tests can impose real SQLite limits (e.g. ``PRAGMA max_page_count`` for a full disk).
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
        self._pending: list[tuple[str, float, Any]] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
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
        self._stop_timeout = 3.0

    # -- publishing (any thread; never blocks) ---------------------------------------------------
    def put(self, kind: str, payload: Any, ts: float | None = None) -> bool:
        """Queue one item for writing; False (and counted as dropped) when the queue is full."""
        item = (kind, self.clock() if ts is None else ts, payload)
        try:
            self._queue.put_nowait(item)
            return True
        except queue.Full:
            with self._lock:
                self._dropped += _size(item)
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
    def start(self) -> History:
        """Open the database and start the writer thread; records this run in ``runs``."""
        if self._thread is not None and self._thread.is_alive():
            return self
        from .._version import __version__

        self._stopping.clear()
        self.put("run_start", {"version": __version__})
        # Create the file before the app serves, so the API can read it from the first request
        # (not 503 "no history database" until the writer's first flush). A failure is left to
        # the writer, which retries and reports it in status().
        if self._conn is None:
            try:
                self._conn = self._open()
            except (sqlite3.Error, OSError):
                pass
        self._thread = threading.Thread(target=self._run, name="streamdash-history", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 3.0) -> bool:
        """Write what is queued (at most ``timeout`` s), close, join; True when all was written."""
        if self._thread is None:
            return True
        self.put("run_stop", {})
        self._stop_timeout = timeout
        self._stopping.set()
        self._thread.join(timeout + 1)
        self._thread = None
        with self._lock:  # what is still here is lost: count it once, keep nothing
            left = sum(map(_size, self._pending))
            self._pending.clear()
        while True:
            try:
                left += _size(self._queue.get_nowait())
            except queue.Empty:
                break
        if left:
            with self._lock:
                self._dropped += left
            log_event(log, logging.ERROR, "history items not written at shutdown",
                      items=left, path=str(self.path), error=self._error)
        return left == 0

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the writer thread; True when it has ended."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    @property
    def alive(self) -> bool:
        """True while the writer thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> History:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

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
        while not self._stopping.is_set():
            self._take(timeout=0.2)
            if self._pending and self.monotonic() >= self._retry_at:
                self._flush()
            if self._conn is not None and self.clock() >= self._next_prune:
                self._prune()
        # Shutdown: write everything queued (bounded by the stop timeout); a failing store gets
        # a few quick retries, then what is left is counted and logged by stop().
        deadline = self.monotonic() + self._stop_timeout
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
                time.sleep(0.1)
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
                self._dropped += sum(map(_size, self._pending[:overflow]))
                del self._pending[:overflow]

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect_fn(str(self.path), timeout=self.options.busy_timeout,
                                isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.options.busy_timeout * 1000)}")
            self._incremental_vacuum_mode(conn)  # before WAL: that writes a new file's header
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"cannot switch to WAL (journal mode is {mode})")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
            conn.executescript(SCHEMA)
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                         (str(SCHEMA_VERSION),))
        except BaseException:
            conn.close()
            raise
        return conn

    def _incremental_vacuum_mode(self, conn: sqlite3.Connection) -> None:
        """Put the file in ``auto_vacuum = INCREMENTAL`` so freed pages can be given back.

        A new file takes the mode before its first table; an existing one only through a
        ``VACUUM`` (a one-time rewrite, needing free disk space about the file's size). When
        that fails the store works on; the file just cannot shrink.
        """
        if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
            return
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        if not conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
            return
        size = self.path.stat().st_size if self.path.exists() else 0
        log_event(log, logging.INFO, "converting history database to incremental vacuum "
                  "(one-time VACUUM)", path=str(self.path), bytes=size)
        try:
            conn.execute("VACUUM")
        except sqlite3.Error as exc:
            log_event(log, logging.WARNING, "history database not converted; it will not "
                      "shrink", path=str(self.path), error=f"{type(exc).__name__}: {exc}")

    def _cap(self, conn: sqlite3.Connection, tables: Iterable[str]) -> int:
        """Delete the rows more than ``max_rows`` below each table's newest; rows deleted."""
        removed = 0
        for table in tables:
            removed += conn.execute(f"DELETE FROM {table} WHERE rowid <= "  # noqa: S608
                                    f"(SELECT MAX(rowid) FROM {table}) - ?",
                                    (self.options.max_rows,)).rowcount
        return removed

    def _insert_capped(self, conn: sqlite3.Connection, items: list[tuple[str, float, Any]]
                       ) -> int:
        """Insert ``items`` and apply the caps in the same transaction, so no reader ever sees
        a table over ``max_rows``; returns the rows not kept.

        The transaction itself stays bounded too (the file grows to the rows it holds at its
        peak): of a batch longer than the cap only the newest ``max_rows`` are inserted (the
        rest would be deleted at once), and a table is trimmed whenever ``max_rows`` rows went
        in since its last trim, so a table peaks below twice its cap.
        """
        cap = self.options.max_rows
        since_trim: dict[str, int] = {}
        dropped = 0
        for item in items:
            sql, rows = _statements(item)
            table = _table(item)
            if table is not None and len(rows) > cap:
                dropped += len(rows) - cap
                rows = rows[-cap:]
            conn.executemany(sql, rows)
            if table is None:
                continue
            since_trim[table] = since_trim.get(table, 0) + len(rows)
            if since_trim[table] >= cap:
                dropped += self._cap(conn, [table])
                since_trim[table] = 0
        return dropped + self._cap(conn, [t for t, n in since_trim.items() if n])

    def _flush(self) -> None:
        with self._lock:
            items = list(self._pending)
        try:
            if self._conn is None:
                self._conn = self._open()
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                capped = self._insert_capped(conn, items)
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
            self._written += sum(map(_size, items))
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
        try:
            conn = self._conn
            assert conn is not None
            removed = 0
            for table in ("snapshots",) + EVENT_TABLES:
                removed += conn.execute(f"DELETE FROM {table} WHERE ts < ?",  # noqa: S608
                                        (cutoff,)).rowcount
            removed += self._cap(conn, CAPPED_TABLES)
            removed += conn.execute("DELETE FROM runs WHERE started < ?", (cutoff,)).rowcount
            # Hand the free pages (from retention and the caps) back to the file system; in
            # WAL mode the file shrinks when the checkpoint writes the truncation through.
            # (executescript: sqlite3's execute() steps once, and each step frees one page.)
            conn.executescript("PRAGMA incremental_vacuum;")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
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
