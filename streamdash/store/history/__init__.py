"""SQLite persistence of what the pipeline did: metrics snapshots, alerts, quarantine, errors,
closed windows.

One :class:`History` per runtime writes ``<data_dir>/history.sqlite3`` (WAL mode) from its own
thread; :class:`HistoryReader` (the HTTP API, ``streamdash metrics``) opens its own read-only
connections beside it. The parts, one job each:

* ``options``   — the ``storage`` settings section (:func:`storage_options`) and the file's path
* ``schema``    — the tables, and opening the file (WAL, incremental vacuum)
* ``rows``      — how a queued item becomes INSERT statements
* ``retention`` — the per-table row cap (``storage.max_rows``) and ``storage.retention_days``
* ``writer``    — :class:`History`, the batching writer thread (a ``Service``)
* ``reader``    — :class:`HistoryReader`, the queries and the downsampling
"""

from __future__ import annotations

from ...errors import QueryTooSlow, StorageUnavailable
from .options import FILENAME, StorageModel, StorageOptions, database_path, storage_options
from .reader import HistoryReader
from .rows import BATCH_KINDS, event_time
from .schema import CAPPED_TABLES, EVENT_TABLES, SCHEMA, SCHEMA_VERSION, WAL_SIZE_LIMIT
from .writer import History, build_history, disabled_status

__all__ = ["BATCH_KINDS", "CAPPED_TABLES", "EVENT_TABLES", "FILENAME", "SCHEMA", "SCHEMA_VERSION",
           "WAL_SIZE_LIMIT", "History", "HistoryReader", "QueryTooSlow", "StorageModel",
           "StorageOptions", "StorageUnavailable", "build_history", "database_path",
           "disabled_status", "event_time", "storage_options"]
