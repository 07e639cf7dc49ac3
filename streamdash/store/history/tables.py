"""The history's tables as both backends hold them (``ts`` is epoch seconds, UTC)::

    snapshots(ts, data)                          one row per metrics snapshot, data = JSON object
    alerts(id, ts, rule, state, severity, data)  alert transitions
    dlq(id, ts, source, reasons, record)         quarantined records
    errors(id, ts, source, kind, message, data)  ingestion errors
    windows(id, ts, key, data)                   closed event-time windows (ts = when closed)
    runs(id, started, stopped, version)          one row per runtime start (restarts)

Every table but ``runs`` is capped by ``storage.max_rows``. JSON columns hold the JSON text the
writer made (PostgreSQL's ``snapshots.data`` is ``jsonb``, so it can be downsampled in SQL).
"""

from __future__ import annotations

EVENT_TABLES = ("alerts", "dlq", "errors", "windows")
#: Tables ``storage.max_rows`` caps (``runs`` holds one row per start).
CAPPED_TABLES = ("snapshots",) + EVENT_TABLES
#: Every table, in the order a copy fills them.
TABLES = ("runs",) + CAPPED_TABLES
#: The columns of each table besides its row id, as the writer fills them.
COLUMNS = {"snapshots": ("ts", "data"),
           "alerts": ("ts", "rule", "state", "severity", "data"),
           "dlq": ("ts", "source", "reasons", "record"),
           "errors": ("ts", "source", "kind", "message", "data"),
           "windows": ("ts", "key", "data"),
           "runs": ("started", "stopped", "version")}
#: Columns holding JSON text, decoded by the readers.
JSON_COLUMNS = frozenset({"data", "reasons", "record"})
