"""Tests for streamdash.store.history.schema: the file's journal and vacuum modes."""

import sqlite3

from streamdash.store.history import History, database_path
from tests.helpers import wait_until

#: The writer takes what is queued every loop (0.2 s when idle); a loaded machine gets ample
#: room, the test still fails quickly when the writer is stuck.
WRITE_TIMEOUT = 30.0


def test_database_is_in_wal_mode(tmp_path):
    """The store switches the database to WAL so readers never block the writer."""
    path = database_path(tmp_path)
    with History(path):
        pass
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_new_files_use_incremental_vacuum(tmp_path):
    """A new history file is created in auto_vacuum = INCREMENTAL mode."""
    path = database_path(tmp_path)
    with History(path) as history:
        wait_until(lambda: history.status()["written"] >= 1, WRITE_TIMEOUT, "the first write")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    conn.close()
