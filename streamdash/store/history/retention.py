"""What keeps the history bounded: the per-table row cap and the retention pass.

``storage.max_rows`` caps every table but ``runs`` as rows are written: the transaction that
inserts a batch also deletes the rows whose row id is more than ``max_rows`` below the newest,
so no reader ever sees more than ``max_rows`` rows in a table (row ids grow by one per insert;
deleting by row id range is an index walk). ``storage.retention_days`` deletes older rows at
start and every ``storage.prune_interval`` seconds; each pass hands free pages back to the file
system (``incremental_vacuum`` and a WAL checkpoint), so the file shrinks after ``max_rows`` or
``retention_days`` is lowered.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from .rows import Item, capped_table, statements
from .schema import CAPPED_TABLES, EVENT_TABLES


def cap(conn: sqlite3.Connection, tables: Iterable[str], max_rows: int) -> int:
    """Delete the rows more than ``max_rows`` below each table's newest; rows deleted."""
    removed = 0
    for table in tables:
        removed += conn.execute(f"DELETE FROM {table} WHERE rowid <= "  # noqa: S608
                                f"(SELECT MAX(rowid) FROM {table}) - ?", (max_rows,)).rowcount
    return removed


def insert_capped(conn: sqlite3.Connection, items: list[Item], max_rows: int) -> int:
    """Insert ``items`` and apply the caps in the same transaction, so no reader ever sees
    a table over ``max_rows``; returns the rows not kept.

    The transaction itself stays bounded too (the file grows to the rows it holds at its
    peak): of a batch longer than the cap only the newest ``max_rows`` are inserted (the
    rest would be deleted at once), and a table is trimmed whenever ``max_rows`` rows went
    in since its last trim, so a table peaks below twice its cap.
    """
    since_trim: dict[str, int] = {}
    dropped = 0
    for item in items:
        sql, rows = statements(item)
        table = capped_table(item)
        if table is not None and len(rows) > max_rows:
            dropped += len(rows) - max_rows
            rows = rows[-max_rows:]
        conn.executemany(sql, rows)
        if table is None:
            continue
        since_trim[table] = since_trim.get(table, 0) + len(rows)
        if since_trim[table] >= max_rows:
            dropped += cap(conn, [table], max_rows)
            since_trim[table] = 0
    return dropped + cap(conn, [t for t, n in since_trim.items() if n], max_rows)


def prune(conn: sqlite3.Connection, cutoff: float, max_rows: int) -> int:
    """Delete the rows older than ``cutoff`` (epoch s) and over the caps, then give the freed
    pages back to the file system; rows deleted."""
    removed = 0
    for table in ("snapshots",) + EVENT_TABLES:
        removed += conn.execute(f"DELETE FROM {table} WHERE ts < ?",  # noqa: S608
                                (cutoff,)).rowcount
    removed += cap(conn, CAPPED_TABLES, max_rows)
    removed += conn.execute("DELETE FROM runs WHERE started < ?", (cutoff,)).rowcount
    # In WAL mode the file shrinks when the checkpoint writes the truncation through.
    # (executescript: sqlite3's execute() steps once, and each step frees one page.)
    conn.executescript("PRAGMA incremental_vacuum;")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    return removed
