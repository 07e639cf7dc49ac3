"""The history test suite runs against both backends: the ``history_backend`` fixture.

Each test that takes ``history_backend`` runs twice: on SQLite in its own temp dir, and on
PostgreSQL in a fresh database of the worker's session cluster (``postgres_dsn``: no initdb per
test). A :class:`HistoryBackend` builds what a test needs for either: a History, a reader, the
settings of a Runtime writing there, the arguments of a command reading it.
"""

from __future__ import annotations

from typing import Any

import pytest

from streamdash.store.history import History, HistoryReader, open_history, open_reader

BACKENDS = ("sqlite", "postgres")


class HistoryBackend:
    """One empty history of one backend, for one test."""

    def __init__(self, name: str, location: str, settings: dict[str, Any]):
        self.name = name
        self.location = location  # sqlite:DIR or the postgres:// URL
        self._settings = settings

    def __repr__(self) -> str:
        return f"HistoryBackend({self.name})"

    def settings(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Settings of a Runtime writing here: ``extra`` with the storage keys merged in."""
        extra = dict(extra or {})
        storage = {**self._settings.get("storage", {}), **extra.pop("storage", {})}
        out = {**self._settings, **extra}
        if storage:
            out["storage"] = storage
        return out

    def history(self, options=None, **kw: Any) -> History:
        """A (not started) History writing here."""
        return open_history(self.location, options, **kw)

    def reader(self) -> HistoryReader:
        """A reader of this history."""
        return open_reader(self.location)

    def integrity_check(self) -> str:
        """The store's own check of its data (PostgreSQL: amcheck, installed here first)."""
        if self.name == "postgres":
            import psycopg

            with psycopg.connect(self.location, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
        return self.reader().integrity_check()

    def cli_args(self) -> list[str]:
        """Arguments telling ``streamdash metrics`` / ``dlq export`` to read here."""
        return ["--history", self.location]


def sqlite_backend(tmp_path) -> HistoryBackend:
    return HistoryBackend("sqlite", f"sqlite:{tmp_path}", {"data_dir": str(tmp_path)})


def postgres_backend(dsn: str) -> HistoryBackend:
    return HistoryBackend("postgres", dsn, {"storage": {"backend": "postgres", "url": dsn}})


@pytest.fixture(params=BACKENDS)
def history_backend(request, tmp_path) -> HistoryBackend:
    """An empty history on SQLite, then on PostgreSQL (the test runs once for each)."""
    if request.param == "sqlite":
        return sqlite_backend(tmp_path)
    return postgres_backend(request.getfixturevalue("postgres_dsn"))
