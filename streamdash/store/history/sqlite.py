"""The SQLite backend: ``<data_dir>/history.sqlite3`` in WAL mode (``schema.py``).

:class:`SqliteStore` is what the writer thread writes through (one connection, transactions
``BEGIN IMMEDIATE``; after a retention pass it hands the freed pages back to the file system);
:class:`SqliteReader` opens a read-only connection per query, which WAL lets run beside the
writer.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ...errors import QueryTooSlow, StorageUnavailable
from .base import SQLITE
from .reader import HistoryReader
from .schema import SCHEMA_VERSION, open_database
from .writes import Transactional


class SqliteReader(HistoryReader):
    """Read-only queries on a history file; every call opens its own connection."""

    dialect = SQLITE

    def __init__(self, path: str | os.PathLike, timeout: float = 5.0,
                 max_seconds: float | None = None):
        super().__init__(max_seconds)
        self.path = Path(path)
        self.location = str(self.path)
        self.timeout = timeout

    def limited(self, max_seconds: float) -> SqliteReader:
        return SqliteReader(self.path, self.timeout, max_seconds)

    def _connect(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise StorageUnavailable(f"no history database at {self.path}")
        try:
            return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                   timeout=self.timeout)
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"cannot open {self.path}: {exc}") from None

    def _select(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
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

    def _value(self, name: str) -> tuple[str, list[Any]]:
        return "json_extract(data, ?)", [f'$."{name}"']

    def _aggregate(self, name: str, peak: bool) -> tuple[str, list[Any]]:
        return f"{'MAX' if peak else 'AVG'}(json_extract(data, ?))", [f'$."{name}"']

    def _bucket(self) -> str:
        return "CAST((ts - ?) / ? AS INTEGER)"  # ts >= since: truncation is floor

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` answer (``"ok"`` when sound)."""
        return self._select("PRAGMA integrity_check", ())[0][0]


class SqliteDb:
    """A SQLite connection as the shared write code uses it (``base.Db``)."""

    dialect = SQLITE

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, tuple(params)).rowcount

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)


class SqliteStore(Transactional):
    """The writer's side of a history file (``base.HistoryStore``). ``connect`` is injectable
    so tests can impose real SQLite limits (e.g. ``PRAGMA max_page_count`` for a full disk)."""

    backend = "sqlite"
    failures: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)
    #: What SQLite or its driver will not take as data (an integer past 64 bits …).
    refused = (sqlite3.DataError, sqlite3.IntegrityError, ValueError, OverflowError)

    def __init__(self, path: str | os.PathLike, busy_timeout: float = 2.0,
                 connect: Callable[..., sqlite3.Connection] = sqlite3.connect):
        self.path = Path(path)
        self.location = str(self.path)
        self.busy_timeout = busy_timeout
        self.reader = SqliteReader(self.path)
        self._connect_fn = connect
        self._conn: sqlite3.Connection | None = None
        #: Schema versions the last ``connect`` applied (the file's tables are made at open).
        self.migrated: list[int] = []

    def connect(self) -> None:
        if self._conn is None:
            self._conn = open_database(self.path, self.busy_timeout, self._connect_fn)

    def _transaction(self, work: Callable[[SqliteDb], int]) -> int:
        self.connect()
        conn = self._conn
        assert conn is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            done = work(SqliteDb(conn))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return done

    def schema_version(self) -> int:
        self.connect()
        assert self._conn is not None
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else SCHEMA_VERSION

    def prune(self, cutoff: float, max_rows: int) -> int:
        removed = self._prune(cutoff, max_rows)
        conn = self._conn
        assert conn is not None
        # In WAL mode the file shrinks when the checkpoint writes the truncation through.
        # (executescript: sqlite3's execute() steps once, and each step frees one page.)
        conn.executescript("PRAGMA incremental_vacuum;")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        return removed

    def disconnect(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None

    def interrupt(self) -> None:
        conn = self._conn
        if conn is not None:
            try:
                conn.interrupt()  # safe from another thread: the statement fails "interrupted"
            except sqlite3.Error:
                pass

    def start_readers(self) -> None:
        """Nothing to start: every read opens the file."""

    def stop_readers(self) -> None:
        """Nothing to stop."""
