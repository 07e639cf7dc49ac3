"""Read-only queries on the history (the HTTP API, the dashboard, ``streamdash metrics``,
``dlq export``, ``history copy``), written once for both backends.

:class:`HistoryReader` holds every query and what its answer looks like; a backend's reader
(``sqlite.SqliteReader``, ``postgres.reader.PostgresReader``) only runs SQL (``_select``) and
says how it reads one number out of a snapshot's JSON. Downsampling happens in SQL
(:meth:`HistoryReader.metric_buckets`), so a long range is a bounded answer, and both backends
bucket alike: ``floor((ts - since) / step)``, the bucket's mean time, the mean of each name (the
maximum for a ``peak`` name), ``None`` values skipped.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

from .base import Dialect
from .tables import COLUMNS, EVENT_TABLES, JSON_COLUMNS, TABLES

Series = dict[str, list[tuple[float, Any]]]


class HistoryReader(ABC):
    """The history's queries; every call takes its own connection (or one from a pool).

    With ``max_seconds`` every query is stopped (``QueryTooSlow``) once it has run that long:
    a client's query over a long range cannot hold a server thread for minutes. Failures to
    read raise ``StorageUnavailable`` naming :attr:`location` and the reason.
    """

    dialect: Dialect
    #: Where the history is, as shown to a user (a path, or a URL without its password).
    location: str
    #: SQL reading a snapshot's ``data`` as JSON text.
    snapshot_text = "data"

    def __init__(self, max_seconds: float | None = None):
        self.max_seconds = max_seconds

    @abstractmethod
    def limited(self, max_seconds: float) -> HistoryReader:
        """The same reader with every query bounded to ``max_seconds``."""

    @abstractmethod
    def _select(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        """Rows of one query (written with ``?`` placeholders)."""

    @abstractmethod
    def _value(self, name: str) -> tuple[str, list[Any]]:
        """SQL reading snapshot value ``name`` as stored (number, text or NULL), and its
        parameters."""

    @abstractmethod
    def _aggregate(self, name: str, peak: bool) -> tuple[str, list[Any]]:
        """SQL of a bucket's mean of ``name`` (its maximum when ``peak``) and its parameters."""

    @abstractmethod
    def _bucket(self) -> str:
        """SQL of a snapshot's bucket number, ``floor((ts - ?) / ?)`` (``since``, ``step``)."""

    def _number(self, value: Any) -> Any:
        """A value as the query gave it, as Python shows it (a backend may convert)."""
        return value

    @abstractmethod
    def integrity_check(self) -> str:
        """``"ok"`` when the store's own check finds its data sound, else what it found."""

    # -- snapshots -----------------------------------------------------------------------------
    def metrics(self, names: Iterable[str], since: float, until: float,
                limit: int = 10_000) -> Series:
        """``name → [(ts, value), …]`` oldest first, the newest ``limit`` points per name."""
        out: Series = {}
        rowid = self.dialect.rowid
        for name in names:
            value, params = self._value(name)
            rows = self._select(
                f"SELECT ts, {value} FROM snapshots WHERE ts >= ? AND ts <= ? "  # noqa: S608
                f"ORDER BY ts DESC, {rowid} DESC LIMIT ?", [*params, since, until, limit])
            out[name] = [(r[0], self._number(r[1])) for r in reversed(rows)]
        return out

    def metric_buckets(self, names: Iterable[str], since: float, until: float, step: float,
                       peak: Iterable[str] = ()) -> Series:
        """Snapshot values averaged per ``step``-second bucket of ``[since, until]``, in SQL.

        ``name → [(mean ts, mean value), …]`` oldest first, one point per bucket holding
        snapshots, so the answer stays bounded (``(until - since) / step + 1`` points) however
        many snapshots the range holds; names in ``peak`` take the bucket's maximum instead.
        ``None`` values are skipped (a bucket of only ``None`` gives ``None``). One query.
        """
        names, peak = list(names), set(peak)
        if step <= 0:
            raise ValueError(f"step must be positive, got {step!r}")
        if not names:
            return {}
        cols, params = [], []
        for name in names:
            sql, more = self._aggregate(name, name in peak)
            cols.append(sql)
            params += more
        rows = self._select(
            f"SELECT AVG(ts), {', '.join(cols)} FROM snapshots "  # noqa: S608
            f"WHERE ts >= ? AND ts <= ? GROUP BY {self._bucket()} ORDER BY 1",
            [*params, since, until, since, step])
        return {n: [(r[0], self._number(r[i])) for r in rows]
                for i, n in enumerate(names, start=1)}

    def snapshots(self, since: float, until: float, limit: int = 10_000) -> list[dict[str, Any]]:
        """Whole snapshots (``{"ts": …, **values}``) oldest first, the newest ``limit``."""
        rows = self._select(f"SELECT ts, {self.snapshot_text} FROM snapshots "  # noqa: S608
                            f"WHERE ts >= ? AND ts <= ? ORDER BY ts DESC, "
                            f"{self.dialect.rowid} DESC LIMIT ?", (since, until, limit))
        return [{"ts": r[0], **json.loads(r[1])} for r in reversed(rows)]

    def metric_page(self, names: Iterable[str], since: float, until: float, limit: int,
                    before: tuple[float, int] | None = None
                    ) -> list[tuple[float, int, list[Any]]]:
        """The newest ``limit`` snapshots of ``[since, until]`` older than ``before``
        (``(ts, rowid)``, a page cursor), newest first: ``(ts, rowid, [value per name])``. One
        query, so every name's series has the same times."""
        cols, params = "", []
        for name in names:
            sql, more = self._value(name)
            cols += f", {sql}"
            params += more
        rowid = self.dialect.rowid
        older = f" AND ts <= ? AND (ts, {rowid}) < (?, ?)" if before is not None else ""
        params += [since, until]
        params += [before[0], *before] if before is not None else []
        rows = self._select(f"SELECT ts, {rowid}{cols} FROM snapshots "  # noqa: S608
                            f"WHERE ts >= ? AND ts <= ?{older} "
                            f"ORDER BY ts DESC, {rowid} DESC LIMIT ?", [*params, limit])
        return [(r[0], r[1], [self._number(v) for v in r[2:]]) for r in rows]

    # -- events --------------------------------------------------------------------------------
    def events(self, table: str, since: float, until: float, limit: int = 1000,
               key: str | None = None, *, state: str | None = None,
               before: tuple[float, int] | None = None) -> list[dict[str, Any]]:
        """Rows of ``alerts``, ``dlq``, ``errors`` or ``windows`` newest first, JSON columns
        decoded; ``key`` keeps only the windows of that key, ``state`` only the alert
        transitions to it, ``before`` (``(ts, id)``, a page cursor) only older rows."""
        if table not in EVENT_TABLES:
            raise ValueError(f"unknown history table {table!r}")
        if key is not None and table != "windows":
            raise ValueError("only windows are selected by key")
        if state is not None and table != "alerts":
            raise ValueError("only alerts are selected by state")
        where, params = "ts >= ? AND ts <= ?", [since, until]
        for column, value in (("key", key), ("state", state)):
            if value is not None:
                where += f" AND {column} = ?"
                params.append(value)
        if before is not None:
            where += " AND ts <= ? AND (ts, id) < (?, ?)"
            params += [before[0], *before]
        columns = ("id", *COLUMNS[table])
        rows = self._select(f"SELECT {', '.join(columns)} FROM {table} "  # noqa: S608
                            f"WHERE {where} ORDER BY ts DESC, id DESC LIMIT ?",
                            [*params, limit])
        return [decoded(dict(zip(columns, row, strict=True))) for row in rows]

    def runs(self) -> list[dict[str, Any]]:
        """Every runtime start (and stop, when it was clean), oldest first."""
        columns = ("id", *COLUMNS["runs"])
        return [dict(zip(columns, r, strict=True)) for r in
                self._select(f"SELECT {', '.join(columns)} FROM runs ORDER BY id", ())]

    def count(self, table: str) -> int:
        """Rows in one table."""
        if table not in TABLES:
            raise ValueError(f"unknown history table {table!r}")
        return self._select(f"SELECT COUNT(*) FROM {table}", ())[0][0]  # noqa: S608

    def table_rows(self, table: str, after: int, limit: int) -> list[tuple[Any, ...]]:
        """Raw rows of ``table`` with a row id above ``after``, in insertion order:
        ``(rowid, *COLUMNS[table])``, JSON columns as text (what ``history copy`` moves)."""
        if table not in TABLES:
            raise ValueError(f"unknown history table {table!r}")
        rowid = self.dialect.rowid if table == "snapshots" else "id"
        cols = [self.snapshot_text if c == "data" and table == "snapshots" else c
                for c in COLUMNS[table]]
        return [tuple(r) for r in self._select(
            f"SELECT {rowid}, {', '.join(cols)} FROM {table} "  # noqa: S608
            f"WHERE {rowid} > ? ORDER BY {rowid} LIMIT ?", (after, limit))]


def decoded(row: dict[str, Any]) -> dict[str, Any]:
    """A history row with its JSON columns decoded."""
    for key in JSON_COLUMNS:
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row
