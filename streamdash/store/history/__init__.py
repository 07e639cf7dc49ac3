"""Persistence of what the pipeline did: metrics snapshots, alerts, quarantine, errors, closed
windows — in SQLite (the default, ``<data_dir>/history.sqlite3``) or PostgreSQL
(``storage.backend: postgres``, a history every process of a deployment shares).

One :class:`History` per runtime writes from its own thread through a store; a
:class:`HistoryReader` (the HTTP API, the dashboard, ``streamdash metrics``) reads beside it.
Both backends answer every query alike. The parts, one job each:

* ``options``   — the ``storage`` settings section (:func:`storage_options`) and the file's path
* ``tables``    — the tables and columns both backends hold
* ``base``      — the store interface, and the little the backends' SQL differs in
* ``rows``      — how a queued item becomes INSERT statements
* ``retention`` — the per-table row cap (``storage.max_rows``) and ``storage.retention_days``
* ``writes``    — the writes both stores make alike, each in its own transaction
* ``writer``    — :class:`History`, the batching writer thread (a ``Service``) and its buffer
* ``reader``    — :class:`HistoryReader`, the queries and the downsampling
* ``schema``, ``sqlite`` — the SQLite file (WAL, incremental vacuum), its store and reader
* ``postgres/`` — the PostgreSQL store and reader, its migrations and connections
* ``locate``    — which history the settings or a command name, and opening it
* ``copy``      — moving a history from one store to another
"""

from __future__ import annotations

from ...errors import QueryTooSlow, StorageUnavailable
from .base import HistoryStore, RejectedRows
from .locate import (
    build_history,
    open_history,
    open_reader,
    open_store,
    settings_location,
    sqlite_path,
)
from .options import FILENAME, StorageModel, StorageOptions, database_path, storage_options
from .reader import HistoryReader
from .rows import BATCH_KINDS, event_time
from .schema import SCHEMA, SCHEMA_VERSION, WAL_SIZE_LIMIT
from .sqlite import SqliteReader, SqliteStore
from .tables import CAPPED_TABLES, EVENT_TABLES, TABLES
from .writer import History, disabled_status

__all__ = ["BATCH_KINDS", "CAPPED_TABLES", "EVENT_TABLES", "FILENAME", "SCHEMA", "SCHEMA_VERSION",
           "TABLES", "WAL_SIZE_LIMIT", "History", "HistoryReader", "HistoryStore",
           "QueryTooSlow", "RejectedRows", "SqliteReader", "SqliteStore", "StorageModel",
           "StorageOptions", "StorageUnavailable", "build_history", "database_path",
           "disabled_status", "event_time", "open_history", "open_reader", "open_store",
           "settings_location", "sqlite_path", "storage_options"]
