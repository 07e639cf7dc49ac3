"""Which history the settings (or a command's argument) point at, and opening it.

A *location* names a history in one string, as ``streamdash history copy`` and the reading
commands take it: ``sqlite:PATH`` (a data dir, or the database file itself; a bare path means
the same) or a PostgreSQL URL (``postgres://…`` / ``postgresql://…``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from .base import HistoryStore
from .options import POSTGRES_SCHEMES, StorageOptions, database_path, storage_options
from .reader import HistoryReader
from .sqlite import SqliteStore
from .writer import History


def sqlite_path(path: str | Path) -> Path:
    """The database file a ``sqlite:`` location names: ``DIR/history.sqlite3`` for an
    existing folder, else the path itself."""
    path = Path(path)
    return database_path(path) if path.is_dir() else path


def open_store(location: str, options: StorageOptions | None = None,
               key: str = "location") -> HistoryStore:
    """The store at ``location`` (see the module docstring); a location of no known kind is
    a ``ConfigError`` at ``key``."""
    options = options or StorageOptions()
    if location.startswith(POSTGRES_SCHEMES):
        from .postgres.store import PostgresStore

        return PostgresStore(location, options)
    if location.startswith("sqlite:"):
        location = location[len("sqlite:"):]
    elif "://" in location:
        raise ConfigError(key, "expected sqlite:PATH or a postgres:// URL "
                               f"(got a {location.split('://')[0]}:// URL)")
    if not location:
        raise ConfigError(key, "expected sqlite:PATH or a postgres:// URL, got nothing")
    return SqliteStore(sqlite_path(location), options.busy_timeout)


def settings_location(options: StorageOptions, data_dir: str | None) -> str | None:
    """The location the ``storage`` settings write to: the PostgreSQL URL, or the SQLite
    file of ``data_dir`` (``None`` without one, or with storage disabled)."""
    if not options.enabled:
        return None
    if options.backend == "postgres":
        return options.url
    return f"sqlite:{database_path(data_dir)}" if data_dir else None


def build_history(settings: Any, options: StorageOptions | None = None, *,
                  clock: Callable[[], float] = time.time,
                  monotonic: Callable[[], float] = time.monotonic) -> History | None:
    """The history store the settings ask for: PostgreSQL at ``storage.url`` with
    ``storage.backend: postgres``, else SQLite in ``data_dir``; ``None`` when
    ``storage.enabled`` is false, or for SQLite without a ``data_dir``."""
    options = options or storage_options(settings.section("storage"))
    location = settings_location(options, settings.get("data_dir"))
    if location is None:
        return None
    return open_history(location, options, clock=clock, monotonic=monotonic, key="storage.url")


def open_history(location: str, options: StorageOptions | None = None, *,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 key: str = "location") -> History:
    """A (not yet started) History writing to ``location``."""
    options = options or StorageOptions()
    return History(open_store(location, options, key), options, clock=clock,
                   monotonic=monotonic)


def open_reader(location: str, options: StorageOptions | None = None) -> HistoryReader:
    """A reader of the history at ``location`` (no writer, no pool: one connection a query)."""
    return open_store(location, options).reader
