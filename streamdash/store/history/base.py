"""The one history interface, and the little its two backends differ in.

A :class:`~streamdash.store.history.writer.History` (the batching writer thread, its buffer,
its status) writes through a :class:`HistoryStore`; the API, the dashboard and the commands
read through a :class:`~streamdash.store.history.reader.HistoryReader`. SQLite
(``sqlite.py``) and PostgreSQL (``postgres/``) each implement both, and differ only in their
SQL and connection code: the row shaping (``rows.py``), the caps and retention
(``retention.py``), the queries and the downsampling semantics (``reader.py``) are shared,
written once against a :class:`Db` and a :class:`Dialect`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .reader import HistoryReader
    from .rows import Item


@dataclass(frozen=True)
class Dialect:
    """What the shared SQL needs to know of a backend: its placeholder, and the column that
    grows by one per insert (the row caps and the page cursors walk it)."""

    name: str
    rowid: str
    placeholder: str = "?"

    def sql(self, text: str) -> str:
        """``text`` (written with ``?`` placeholders, and no ``?`` anywhere else) in this
        backend's placeholder style."""
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)


SQLITE = Dialect("sqlite", rowid="rowid")
POSTGRES = Dialect("postgres", rowid="id", placeholder="%s")


class Db(Protocol):
    """One open transaction of a backend, as the shared write code uses it. SQL is written
    with ``?`` placeholders (the adapter translates); values always travel as parameters."""

    dialect: Dialect

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute one statement; the rows it changed."""

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Execute one statement for each parameter row (batched by the driver)."""


def one_line(exc: BaseException) -> str:
    """``exc`` as one line, its type first (a driver's message may span lines: libpq adds
    hints on a line of their own)."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}".rstrip(": ")


class RejectedRows(Exception):
    """The database refused the data of a batch (not a connection or storage failure): the
    writer then writes its items one by one and counts the ones refused, instead of retrying
    a batch that can never succeed."""


class HistoryStore(Protocol):
    """Where a History writes: the SQL and connection code of one backend.

    The writer thread alone calls ``connect``/``write``/``prune``/``disconnect``; ``interrupt``
    comes from the thread stopping it. ``failures`` are the exceptions meaning *the store is
    failing* (the writer keeps the items, reports the error and retries with backoff).
    """

    backend: str  # "sqlite" | "postgres"
    location: str  # shown in /health and the logs: a path, or the URL without its password
    failures: tuple[type[BaseException], ...]
    reader: HistoryReader
    migrated: list[int]  # schema versions the last ``connect`` applied

    def connect(self) -> None:
        """Open the writer's connection (creating or migrating the schema)."""

    def write(self, items: list[Item], max_rows: int) -> int:
        """Insert ``items`` and apply the caps in one transaction; rows not kept. Raises
        :class:`RejectedRows` when the database refuses the data itself."""

    def prune(self, cutoff: float, max_rows: int) -> int:
        """Delete rows older than ``cutoff`` and over the caps; rows deleted."""

    def insert_rows(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        """Insert raw rows (``tables.COLUMNS[table]``) in one transaction (``history copy``);
        :class:`RejectedRows` when the database refuses them."""

    def schema_version(self) -> int:
        """The version of the schema the store holds (connecting first)."""

    def disconnect(self) -> None:
        """Close the writer's connection (reopened by the next ``connect``)."""

    def interrupt(self) -> None:
        """Cancel the statement the writer is running (from another thread; may do nothing)."""

    def start_readers(self) -> None:
        """Start what the readers share while the writer runs (PostgreSQL's pool)."""

    def stop_readers(self) -> None:
        """Stop it again; readers then open a connection per query."""
