"""The writer's side of the PostgreSQL history (``base.HistoryStore``).

One connection of its own (the readers' pool is separate, so a burst of API queries never
holds up a write), the schema migrated on connect, each batch one transaction through the
shared ``retention.insert_capped`` (``executemany`` runs in psycopg's pipeline mode: one round
trip for a batch, not one per row). A lost connection, a server shutting down, a statement
past ``storage.statement_timeout`` are failures of the store (the writer keeps its buffer and
retries); a value the server refuses is a ``RejectedRows`` (``writes.Transactional``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ....errors import StorageUnavailable
from ..base import POSTGRES
from ..options import StorageOptions
from ..writes import Transactional
from .connect import Postgres, ReaderPool, psycopg
from .migrations import migrate, schema_version
from .reader import PostgresReader


class PostgresDb:
    """A psycopg connection in a transaction, as the shared write code uses it (``base.Db``)."""

    dialect = POSTGRES

    def __init__(self, conn: Any):
        self.cursor = conn.cursor()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        self.cursor.execute(self.dialect.sql(sql), tuple(params))
        return self.cursor.rowcount

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.cursor.executemany(self.dialect.sql(sql), rows)


class PostgresStore(Transactional):
    """The history in PostgreSQL at ``url`` (``storage.*`` bounds its connections)."""

    backend = "postgres"

    def __init__(self, url: str, options: StorageOptions | None = None):
        options = options or StorageOptions()
        self.postgres = Postgres(url, schema=options.pg_schema,
                                 connect_timeout=options.connect_timeout,
                                 statement_timeout=options.statement_timeout)
        self.location = self.postgres.location
        pg = psycopg()
        self.failures: tuple[type[BaseException], ...] = (pg.Error, StorageUnavailable)
        self.refused = (pg.DataError, ValueError)  # what the server will not take as data
        self.pool = ReaderPool(self.postgres, options.pool_size)
        self.reader = PostgresReader(self.pool)
        self._conn: Any = None
        self.migrated: list[int] = []

    def connect(self) -> None:
        if self._conn is not None:
            return
        conn = self.postgres.connect()
        try:
            self.migrated = migrate(conn, self.postgres.schema)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _transaction(self, work: Callable[[PostgresDb], int]) -> int:
        self.connect()
        with self._conn.transaction():
            return work(PostgresDb(self._conn))

    def schema_version(self) -> int:
        self.connect()
        return schema_version(self._conn)

    def prune(self, cutoff: float, max_rows: int) -> int:
        # Autovacuum gives the space of deleted rows back to new ones; nothing more to do.
        return self._prune(cutoff, max_rows)

    def disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # a broken connection may fail to close: it is gone either way
                pass

    def interrupt(self) -> None:
        conn = self._conn
        if conn is not None:
            try:
                conn.cancel_safe(timeout=2.0)
            except Exception:  # closed meanwhile, or the server is unreachable: nothing runs
                pass

    def start_readers(self) -> None:
        self.pool.start()

    def stop_readers(self) -> None:
        self.pool.stop()
