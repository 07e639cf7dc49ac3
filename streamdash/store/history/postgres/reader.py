"""The history's queries in PostgreSQL (``reader.HistoryReader`` holds them; this runs them).

A snapshot value is read from ``jsonb`` as SQLite's ``json_extract`` reads it: ``data -> name``
gives the stored number (an integer stays one), text or null; a bucket's mean is taken over the
values that are numbers, and its maximum as ``numeric``, which keeps a number's written form,
so ``3`` comes back as ``3`` and ``3.0`` as ``3.0``, as in SQLite. Buckets are
``floor((ts - since) / step)`` over the same ``double precision`` times (``date_bin``'s
arithmetic without its rounding of epoch seconds to microseconds), so both backends put every
snapshot in the same bucket.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from ....errors import QueryTooSlow, StorageUnavailable
from ..base import POSTGRES, one_line
from ..reader import HistoryReader
from .connect import ReaderPool, psycopg

_NUMBER = "CASE WHEN jsonb_typeof(data -> ?) = 'number' THEN (data ->> ?)::{} END"


class PostgresReader(HistoryReader):
    """Queries on the history in PostgreSQL, through the store's :class:`ReaderPool`."""

    dialect = POSTGRES
    snapshot_text = "data::text"

    def __init__(self, pool: ReaderPool, max_seconds: float | None = None):
        super().__init__(max_seconds)
        self.pool = pool
        self.location = pool.postgres.location

    def limited(self, max_seconds: float) -> PostgresReader:
        return PostgresReader(self.pool, max_seconds)

    def _select(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        pg = psycopg()
        try:
            with self.pool.connection() as conn, conn.transaction():
                if self.max_seconds is not None:
                    conn.execute("SELECT set_config('statement_timeout', %s, true)",
                                 (f"{max(1, int(self.max_seconds * 1000))}",))
                return conn.execute(self.dialect.sql(sql), tuple(params)).fetchall()
        except pg.errors.QueryCanceled:
            if self.max_seconds is not None:
                raise QueryTooSlow(f"query stopped after {self.max_seconds:g} s") from None
            raise StorageUnavailable(f"query on {self.location} cancelled (statement "
                                     "timeout)") from None
        except pg.errors.UndefinedTable:
            raise StorageUnavailable(f"no history tables in {self.location} (start the app "
                                     "once, or run 'streamdash history migrate')") from None
        except (pg.Error, OSError) as exc:
            raise StorageUnavailable(f"cannot read {self.location}: {one_line(exc)}") from None

    def _value(self, name: str) -> tuple[str, list[Any]]:
        return "data -> ?", [name]

    def _aggregate(self, name: str, peak: bool) -> tuple[str, list[Any]]:
        if peak:
            return f"MAX({_NUMBER.format('numeric')})", [name, name]
        return f"AVG({_NUMBER.format('float8')})", [name, name]

    def _bucket(self) -> str:
        return "floor((ts - ?) / ?)"

    def _number(self, value: Any) -> Any:
        if isinstance(value, Decimal):  # a bucket's maximum: as its JSON was written
            return int(value) if value.as_tuple().exponent >= 0 else float(value)
        return value

    def integrity_check(self) -> str:
        """Every history index checked by ``amcheck``'s ``bt_index_check`` (when the
        extension is installed: ``CREATE EXTENSION amcheck``): ``"ok"``, or the error."""
        found = self._select("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
                             "ON n.oid = e.extnamespace WHERE e.extname = 'amcheck'", ())
        if not found:
            return "unchecked: the amcheck extension is not installed"
        schema = found[0][0].replace('"', '""')  # a name from the catalog, quoted
        check = f'"{schema}".bt_index_check'
        try:
            self._select(f"SELECT {check}(i.indexrelid::regclass) FROM pg_index i "
                         "JOIN pg_class c ON c.oid = i.indrelid "
                         "WHERE c.relnamespace = current_schema()::regnamespace", ())
        except StorageUnavailable as exc:
            return str(exc)
        return "ok"
