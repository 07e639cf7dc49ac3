"""The SQLite history's schema (the tables of ``tables.py``), and opening the file in the mode
the writer relies on.

The file is in WAL mode (readers run beside the writer) and ``auto_vacuum = INCREMENTAL``: an
existing file is converted once, by a ``VACUUM`` at open, so the pages freed by retention and
the row caps can be handed back to the file system (see ``retention.py``).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

from ...logs import log_event
from .tables import CAPPED_TABLES, EVENT_TABLES

__all__ = ["CAPPED_TABLES", "EVENT_TABLES", "SCHEMA", "SCHEMA_VERSION", "open_database"]

log = logging.getLogger("streamdash.history")

SCHEMA_VERSION = 1
#: Largest WAL file kept between checkpoints (bytes); a large batch may grow it past this,
#: the next checkpoint truncates it back.
WAL_SIZE_LIMIT = 64 * 1024 * 1024
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


def open_database(path: Path, busy_timeout: float,
                  connect: Callable[..., sqlite3.Connection] = sqlite3.connect
                  ) -> sqlite3.Connection:
    """The writer's connection to ``path`` (created with its folder): WAL, incremental vacuum,
    the tables above; autocommit (the writer opens its own transactions)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(str(path), timeout=busy_timeout, isolation_level=None,
                   check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        incremental_vacuum_mode(conn, path)  # before WAL: that writes a new file's header
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


def incremental_vacuum_mode(conn: sqlite3.Connection, path: Path) -> None:
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
    size = path.stat().st_size if path.exists() else 0
    log_event(log, logging.INFO, "converting history database to incremental vacuum "
              "(one-time VACUUM)", path=str(path), bytes=size)
    try:
        conn.execute("VACUUM")
    except sqlite3.Error as exc:
        log_event(log, logging.WARNING, "history database not converted; it will not "
                  "shrink", path=str(path), error=f"{type(exc).__name__}: {exc}")
