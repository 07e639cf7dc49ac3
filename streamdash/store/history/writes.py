"""The writes both stores make the same way, each inside its own kind of transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from . import retention
from .base import Db, RejectedRows, one_line
from .rows import Item, insert_sql


class Transactional:
    """Base of a store: ``write``, ``insert_rows`` and ``prune`` through ``_transaction``
    (one transaction of the backend); the exceptions in ``refused`` (data the database will
    not take) become :class:`RejectedRows`."""

    refused: tuple[type[BaseException], ...] = (ValueError,)

    def _transaction(self, work: Callable[[Db], int]) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _refusing(self, work: Callable[[Db], int]) -> int:
        try:
            return self._transaction(work)
        except self.refused as exc:
            raise RejectedRows(one_line(exc)) from exc

    def write(self, items: list[Item], max_rows: int) -> int:
        """Insert ``items`` with the caps in one transaction; rows not kept."""
        return self._refusing(lambda db: retention.insert_capped(db, items, max_rows))

    def insert_rows(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        """Insert raw rows of ``table`` in one transaction (``history copy``)."""
        self._refusing(lambda db: db.run_many(insert_sql(table), rows) or 0)

    def _prune(self, cutoff: float, max_rows: int) -> int:
        return self._transaction(lambda db: retention.prune(db, cutoff, max_rows))
