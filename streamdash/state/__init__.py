"""The state the dashboard and the API read, behind one interface, from one of two backends.

* ``base``   — the read-side interface: :class:`StreamState` (one stream's records, logs,
  metrics, alerts, health), :class:`StateStore` (the streams by name), :class:`StreamInfo`
* ``memory`` — the ``memory`` backend: the runtime of this process, read in place (default)
* the ``redis`` backend: ``publisher`` (a worker writes its runtime's state per batch),
  ``redis_reader`` / ``redis_quality`` (web processes read it), ``layout`` (the keys and the
  JSON codec), ``redis_conn`` (URL, pool, timeouts, retries), ``lease`` (one writer per
  stream), ``build`` (the settings → a store to read, a publisher to write)
* ``probes`` — the ``/health`` and ``/health/ready`` answers every role gives

A web process reads only through these; which backend it gets is the ``state`` settings
section's choice (docs/operations.md, "Splitting web and worker").
"""

from __future__ import annotations

from .base import (
    DEFAULT_STREAM,
    LOGS,
    EventLog,
    MetricsView,
    Pulse,
    QualityView,
    RecordLog,
    StateStore,
    StreamInfo,
    StreamState,
)
from .memory import MemoryStore, MemoryStream, as_stream, window_spec

__all__ = ["DEFAULT_STREAM", "LOGS", "EventLog", "MemoryStore", "MemoryStream", "MetricsView",
           "Pulse", "QualityView", "RecordLog", "StateStore", "StreamInfo", "StreamState",
           "as_stream", "window_spec"]
