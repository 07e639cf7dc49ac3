"""Read-only queries on the history database (the HTTP API, ``streamdash metrics``, ``dlq``).

Every call opens its own read-only connection, which WAL lets run beside the writer.
Downsampling happens in SQL (:meth:`HistoryReader.metric_buckets`), so a long range is a bounded
answer.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...errors import QueryTooSlow, StorageUnavailable
from .schema import EVENT_TABLES


class HistoryReader:
    """Read-only queries on a history database; every call opens its own connection.

    With ``max_seconds`` every query is interrupted (``QueryTooSlow``) once it has run that
    long: a client's query over a long range cannot hold a server thread for minutes.
    """

    def __init__(self, path: str | os.PathLike, timeout: float = 5.0,
                 max_seconds: float | None = None):
        self.path = Path(path)
        self.timeout = timeout
        self.max_seconds = max_seconds

    def limited(self, max_seconds: float) -> HistoryReader:
        """The same reader with every query bounded to ``max_seconds``."""
        return HistoryReader(self.path, self.timeout, max_seconds)

    def _connect(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise StorageUnavailable(f"no history database at {self.path}")
        try:
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                   timeout=self.timeout)
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"cannot open {self.path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        return conn

    def _select(self, sql: str, params: Iterable[Any]) -> list[sqlite3.Row]:
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

    def metrics(self, names: Iterable[str], since: float, until: float,
                limit: int = 10_000) -> dict[str, list[tuple[float, float | None]]]:
        """``name → [(ts, value), …]`` oldest first, the newest ``limit`` points per name."""
        out: dict[str, list[tuple[float, float | None]]] = {}
        for name in names:
            rows = self._select(
                "SELECT ts, json_extract(data, ?) AS v FROM snapshots WHERE ts >= ? AND ts <= ? "
                "ORDER BY ts DESC LIMIT ?", (f'$."{name}"', since, until, limit))
            out[name] = [(r["ts"], r["v"]) for r in reversed(rows)]
        return out

    def metric_buckets(self, names: Iterable[str], since: float, until: float, step: float,
                       peak: Iterable[str] = ()) -> dict[str, list[tuple[float, float | None]]]:
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
        cols = ", ".join(f"{'MAX' if n in peak else 'AVG'}(json_extract(data, ?))"
                         for n in names)
        rows = self._select(
            f"SELECT AVG(ts), {cols} FROM snapshots WHERE ts >= ? AND ts <= ? "  # noqa: S608
            "GROUP BY CAST((ts - ?) / ? AS INTEGER) ORDER BY 1",
            [*(f'$."{n}"' for n in names), since, until, since, step])
        return {n: [(r[0], r[i]) for r in rows] for i, n in enumerate(names, start=1)}

    def snapshots(self, since: float, until: float, limit: int = 10_000) -> list[dict[str, Any]]:
        """Whole snapshots (``{"ts": …, **values}``) oldest first, the newest ``limit``."""
        rows = self._select("SELECT ts, data FROM snapshots WHERE ts >= ? AND ts <= ? "
                            "ORDER BY ts DESC LIMIT ?", (since, until, limit))
        return [{"ts": r["ts"], **json.loads(r["data"])} for r in reversed(rows)]

    def metric_page(self, names: Iterable[str], since: float, until: float, limit: int,
                    before: tuple[float, int] | None = None
                    ) -> list[tuple[float, int, list[float | None]]]:
        """The newest ``limit`` snapshots of ``[since, until]`` older than ``before``
        (``(ts, rowid)``, a page cursor), newest first: ``(ts, rowid, [value per name])``. One
        query, so every name's series has the same times."""
        names = list(names)
        cols = "".join(", json_extract(data, ?)" for _ in names)
        older = " AND ts <= ? AND (ts, rowid) < (?, ?)" if before is not None else ""
        params = [*(f'$."{n}"' for n in names), since, until]
        params += [before[0], *before] if before is not None else []
        rows = self._select(f"SELECT ts, rowid{cols} FROM snapshots "  # noqa: S608
                            f"WHERE ts >= ? AND ts <= ?{older} "
                            "ORDER BY ts DESC, rowid DESC LIMIT ?", [*params, limit])
        return [(r[0], r[1], list(r[2:])) for r in rows]

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
        by_key = " AND key = ?" if key is not None else ""
        by_key += " AND state = ?" if state is not None else ""
        by_key += " AND ts <= ? AND (ts, id) < (?, ?)" if before is not None else ""
        params = (since, until) + ((key,) if key is not None else ()) \
            + ((state,) if state is not None else ()) \
            + ((before[0], *before) if before is not None else ()) + (limit,)
        rows = self._select(f"SELECT * FROM {table} WHERE ts >= ? AND ts <= ?{by_key} "  # noqa: S608
                            "ORDER BY ts DESC, id DESC LIMIT ?", params)
        out = []
        for row in rows:
            item = dict(row)
            for key in ("data", "reasons", "record"):
                if isinstance(item.get(key), str):
                    item[key] = json.loads(item[key])
            out.append(item)
        return out

    def runs(self) -> list[dict[str, Any]]:
        """Every runtime start (and stop, when it was clean), oldest first."""
        return [dict(r) for r in self._select("SELECT * FROM runs ORDER BY id", ())]

    def count(self, table: str) -> int:
        """Rows in one table."""
        if table not in EVENT_TABLES + ("snapshots", "runs"):
            raise ValueError(f"unknown history table {table!r}")
        return self._select(f"SELECT COUNT(*) AS n FROM {table}", ())[0]["n"]  # noqa: S608

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` answer (``"ok"`` when sound)."""
        return self._select("PRAGMA integrity_check", ())[0][0]
