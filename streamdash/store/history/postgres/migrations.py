"""The PostgreSQL history's schema, as numbered migrations applied at start.

:func:`migrate` runs in one transaction holding a transaction-level advisory lock, so two
processes starting at once (a web and a worker, two dynos) do not race: the second waits for
the first's commit, then finds every migration applied and does nothing. Each applied version
is a row of ``streamdash_migrations``; a database whose newest version is one this code does
not know (written by a newer streamdash) is refused rather than written with an old idea of
its tables. DDL is transactional in PostgreSQL: a migration applies wholly or not at all.

The tables are those of ``tables.py`` with an identity ``id`` in each (the row caps and page
cursors walk it), times as ``double precision`` epoch seconds (exactly SQLite's ``REAL``, so
cursors and bucket bounds compare alike), ``snapshots.data`` as ``jsonb`` (downsampled in SQL)
and the event tables' JSON as the text the writer made (answers byte for byte as SQLite's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ....errors import StorageUnavailable

#: The advisory lock key of streamdash's migrations (any constant; "STRM" in ASCII).
LOCK_KEY = 0x5354_524D


@dataclass(frozen=True)
class Migration:
    """One step of the schema: its version, what it does, its statements."""

    version: int
    name: str
    statements: tuple[str, ...]


def _table(name: str, columns: str) -> tuple[str, str]:
    return (f"CREATE TABLE {name} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
            f"ts double precision NOT NULL, {columns})",
            f"CREATE INDEX {name}_ts ON {name} (ts, id)")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "history tables", (
        *_table("snapshots", "data jsonb NOT NULL"),
        *_table("alerts", "rule text, state text, severity text, data text NOT NULL"),
        *_table("dlq", "source text, reasons text NOT NULL, record text"),
        *_table("errors", "source text, kind text, message text, data text NOT NULL"),
        *_table("windows", "key text, data text NOT NULL"),
        "CREATE INDEX windows_key ON windows (key, ts, id)",
        "CREATE TABLE runs (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "started double precision NOT NULL, stopped double precision, version text)",
    )),
)
LATEST = MIGRATIONS[-1].version


def migrate(conn: Any, schema: str) -> list[int]:
    """Bring ``schema`` of ``conn``'s database to :data:`LATEST`; the versions applied now
    (empty when it was up to date). Safe to call from many processes at once."""
    from psycopg import sql

    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute("CREATE TABLE IF NOT EXISTS streamdash_migrations ("
                     "version integer PRIMARY KEY, name text NOT NULL, "
                     "applied_at timestamptz NOT NULL DEFAULT now())")
        done = {row[0] for row in conn.execute("SELECT version FROM streamdash_migrations")}
        newest = max(done, default=0)
        if newest > LATEST:
            raise StorageUnavailable(
                f"the history schema is at version {newest}, newer than this streamdash "
                f"knows ({LATEST}): upgrade streamdash")
        applied = []
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute("INSERT INTO streamdash_migrations (version, name) VALUES (%s, %s)",
                         (migration.version, migration.name))
            applied.append(migration.version)
    return applied


def schema_version(conn: Any) -> int:
    """The newest migration applied (0 for a database without the history)."""
    with conn.transaction():
        exists = conn.execute("SELECT to_regclass('streamdash_migrations')").fetchone()[0]
        if exists is None:
            return 0
        return conn.execute("SELECT COALESCE(MAX(version), 0) FROM streamdash_migrations"
                            ).fetchone()[0]
