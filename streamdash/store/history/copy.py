"""Moving a history between stores (``streamdash history copy``), and migrating one
(``streamdash history migrate``).

A copy reads every table in insertion order, a page at a time (``HistoryReader.table_rows``),
and writes each page in one transaction of the target (``HistoryStore.insert_rows``), times and
JSON as they are: the copy answers every query as the original did. The target must be empty
(a second copy would double every row). A row the target refuses (a snapshot whose JSON
PostgreSQL's ``jsonb`` cannot hold, say) is skipped and counted, never silently.
"""

from __future__ import annotations

from .base import HistoryStore, RejectedRows
from .reader import HistoryReader
from .tables import TABLES


def migrate(store: HistoryStore) -> str:
    """Create or migrate ``store``'s schema; one line saying where it stands."""
    store.connect()
    applied = store.migrated
    note = f"applied now: {', '.join(map(str, applied))}" if applied else "up to date"
    return f"{store.location}: history schema at version {store.schema_version()} ({note})"


def copy_history(source: HistoryReader, target: HistoryStore, batch: int = 5000
                 ) -> dict[str, int]:
    """Copy every row of ``source`` into the empty ``target``; rows copied per table, and
    ``skipped`` (rows the target refused). ``LookupError`` when the target holds rows."""
    target.connect()
    held = {table: n for table in TABLES if (n := target.reader.count(table))}
    if held:
        raise LookupError(f"{target.location} already holds rows "
                          f"({', '.join(f'{t} {n}' for t, n in held.items())}): copy into an "
                          "empty history")
    copied: dict[str, int] = {}
    skipped = 0
    for table in TABLES:
        copied[table], after = 0, -1
        while rows := source.table_rows(table, after, batch):
            after = rows[-1][0]
            values = [row[1:] for row in rows]
            try:
                target.insert_rows(table, values)
                copied[table] += len(values)
            except RejectedRows:
                for value in values:  # the page again, row by row: keep all the target takes
                    try:
                        target.insert_rows(table, [value])
                        copied[table] += 1
                    except RejectedRows:
                        skipped += 1
    return {**copied, "skipped": skipped}
