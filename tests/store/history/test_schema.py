"""Tests for streamdash.store.history.schema: the file's journal and vacuum modes."""

import sqlite3

import pytest

from streamdash.store.history import (
    CAPPED_TABLES,
    SCHEMA_VERSION,
    History,
    SqliteStore,
    database_path,
)
from streamdash.store.history.schema import open_database
from tests.helpers import wait_until

#: The writer takes what is queued every loop (0.2 s when idle); a loaded machine gets ample
#: room, the test still fails quickly when the writer is stuck.
WRITE_TIMEOUT = 30.0


def test_database_is_in_wal_mode(tmp_path):
    """The store switches the database to WAL so readers never block the writer."""
    path = database_path(tmp_path)
    with History(SqliteStore(path)):
        pass
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_new_files_use_incremental_vacuum(tmp_path):
    """A new history file is created in auto_vacuum = INCREMENTAL mode."""
    path = database_path(tmp_path)
    with History(SqliteStore(path)) as history:
        wait_until(lambda: history.status()["written"] >= 1, WRITE_TIMEOUT, "the first write")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    conn.close()


def test_open_database_creates_every_table_and_records_the_schema_version(tmp_path):
    """Opening a new path creates its folder, the tables of SCHEMA and meta.schema_version."""
    path = tmp_path / "sub" / "history.sqlite3"
    conn = open_database(path, busy_timeout=0.5)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert set(CAPPED_TABLES) | {"runs", "meta"} <= tables
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
            str(SCHEMA_VERSION),)
    finally:
        conn.close()
    again = open_database(path, busy_timeout=0.5)  # reopening an existing file is harmless
    again.close()


def test_a_connection_that_cannot_use_wal_is_refused_and_closed(tmp_path):
    """A journal that will not switch to WAL (an in-memory database here) is an error, and the
    half-opened connection is closed rather than leaked."""
    opened = []

    def memory(*args, **kwargs):
        conn = sqlite3.connect(":memory:", **{k: v for k, v in kwargs.items()
                                               if k != "timeout"})
        opened.append(conn)
        return conn

    with pytest.raises(sqlite3.OperationalError, match="cannot switch to WAL"):
        open_database(tmp_path / "history.sqlite3", 0.5, memory)
    with pytest.raises(sqlite3.ProgrammingError):  # closed
        opened[0].execute("SELECT 1")
