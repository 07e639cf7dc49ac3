"""What keeps the history bounded, for both backends: the per-table row cap and the retention
pass, written once against a :class:`~streamdash.store.history.base.Db`.

``storage.max_rows`` caps every table but ``runs`` as rows are written: the transaction that
inserts a batch also deletes the rows whose row id is more than ``max_rows`` below the newest,
so no reader ever sees more than ``max_rows`` rows in a table (row ids grow by one per insert,
so a table holds at most ``max_rows``: fewer only where ids have gaps, e.g. a PostgreSQL
sequence after a rolled-back insert; deleting by row id range is an index walk).
``storage.retention_days`` deletes older rows at start and every ``storage.prune_interval``
seconds; the SQLite store then hands the freed pages back to the file system.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .base import Db
from .rows import Item, capped_table, statements
from .tables import CAPPED_TABLES, EVENT_TABLES


def cap(db: Db, tables: Iterable[str], max_rows: int) -> int:
    """Delete the rows more than ``max_rows`` below each table's newest; rows deleted."""
    rowid = db.dialect.rowid
    return sum(db.run(f"DELETE FROM {table} WHERE {rowid} <= "  # noqa: S608 - names are ours
                      f"(SELECT MAX({rowid}) FROM {table}) - ?", (max_rows,))
               for table in tables)


def insert_capped(db: Db, items: list[Item], max_rows: int) -> int:
    """Insert ``items`` and apply the caps in the same transaction, so no reader ever sees
    a table over ``max_rows``; returns the rows not kept.

    Consecutive items of one statement (a run of snapshots) go in one ``run_many``: one
    round trip to a server, not one per row. The transaction itself stays bounded too (the
    store grows to the rows it holds at its peak): of a run longer than the cap only the
    newest ``max_rows`` are inserted (the rest would be deleted at once), and a table is
    trimmed whenever ``max_rows`` rows went in since its last trim, so a table peaks below
    twice its cap.
    """
    since_trim: dict[str, int] = {}
    dropped = 0
    for table, sql, rows in _runs(items):
        if table is not None and len(rows) > max_rows:
            dropped += len(rows) - max_rows
            rows = rows[-max_rows:]
        if rows:
            db.run_many(sql, rows)
        if table is None:
            continue
        since_trim[table] = since_trim.get(table, 0) + len(rows)
        if since_trim[table] >= max_rows:
            dropped += cap(db, [table], max_rows)
            since_trim[table] = 0
    return dropped + cap(db, [t for t, n in since_trim.items() if n], max_rows)


def _runs(items: list[Item]) -> list[tuple[str | None, str, list[tuple[Any, ...]]]]:
    """``(capped table, statement, parameter rows)`` of ``items``, consecutive items of one
    statement joined, in order."""
    out: list[tuple[str | None, str, list[tuple[Any, ...]]]] = []
    for item in items:
        sql, rows = statements(item)
        if out and out[-1][1] == sql:
            out[-1][2].extend(rows)
        else:
            out.append((capped_table(item), sql, list(rows)))
    return out


def prune(db: Db, cutoff: float, max_rows: int) -> int:
    """Delete the rows older than ``cutoff`` (epoch s) and over the caps (runs by their
    start); rows deleted."""
    removed = 0
    for table in ("snapshots",) + EVENT_TABLES:
        removed += db.run(f"DELETE FROM {table} WHERE ts < ?", (cutoff,))  # noqa: S608
    removed += cap(db, CAPPED_TABLES, max_rows)
    removed += db.run("DELETE FROM runs WHERE started < ?", (cutoff,))
    return removed
