"""The ingestion error log of one source: every failed attempt, logged and published.

Sources do not know the runtime, so each owns an :class:`IngestLog`; the runtime calls the
source's ``bind_events(bus)`` and every event then also goes to the ``ingest_error`` topic
(the dashboard's recent-error log and the persistence layer subscribe there). An event is a
JSON-ready dict::

    {"at": "2026-01-02T03:04:05.678Z", "source": "quakes", "url": "https://…?api_key=***",
     "kind": "server_error", "reason": "HTTP 503 …; body: '…'", "status": 503,
     "attempt": 2, "next_delay": 1.234}

``next_delay`` is the wait before the next try, or ``None`` when the source gave up (logged at
ERROR; a retried attempt is logged at WARNING). URLs and reasons pass through the source's
:class:`~streamdash.sources.redact.Redactor` so secrets never reach the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ..logs import log_event
from ..models import utc_iso
from .redact import Redactor

log = logging.getLogger("streamdash.sources")

Listener = Callable[[dict[str, Any]], None]
TOPIC = "ingest_error"


class IngestLog:
    """Records failed ingestion attempts for one source and hands them to listeners."""

    def __init__(self, source: str, *, redactor: Redactor | None = None,
                 clock: Callable[[], float] = time.time, logger: logging.Logger = log):
        self.source = source
        self.redactor = redactor or Redactor()
        self.clock = clock
        self.logger = logger
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self.total = 0
        self.by_kind: dict[str, int] = {}
        self.last: dict[str, Any] | None = None

    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(event)`` for every event from now on."""
        self._listeners.append(fn)

    def bind(self, bus: Any) -> None:
        """Publish every event on ``bus`` (an :class:`~streamdash.events.EventBus`)."""
        self.add_listener(lambda event: bus.publish(TOPIC, event))

    def report(self, kind: str, reason: str, *, url: str = "", status: int | None = None,
               attempt: int = 1, next_delay: float | None = None,
               level: int | None = None) -> dict[str, Any]:
        """Log one failed attempt, count it, and pass it to the listeners; returns the event."""
        event = {"at": utc_iso(self.clock()), "source": self.source,
                 "url": self.redactor.url(url) if url else "", "kind": kind,
                 "reason": self.redactor.text(reason), "status": status, "attempt": attempt,
                 "next_delay": None if next_delay is None else round(next_delay, 3)}
        with self._lock:
            self.total += 1
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
            self.last = event
        if level is None:
            level = logging.WARNING if next_delay is not None else logging.ERROR
        msg = "ingestion failed; retrying" if next_delay is not None else "ingestion failed"
        log_event(self.logger, level, msg, **event)
        for fn in self._listeners:
            try:
                fn(dict(event))
            except Exception:  # a broken listener must not stop ingestion
                self.logger.exception("ingest error listener failed")
        return event

    def snapshot(self) -> dict[str, Any]:
        """Counts by kind and the last event (copies)."""
        with self._lock:
            return {"total": self.total, "by_kind": dict(self.by_kind),
                    "last": dict(self.last) if self.last else None}
