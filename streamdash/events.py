"""A small synchronous publish/subscribe hub that decouples producers of events from consumers.

Components publish what happened (an ingestion error, rejected records, an alert transition, a
closed window) and others subscribe (the persistence layer, notifiers) without importing each
other. Subscribers run in the publisher's thread and must be quick; a subscriber that raises is
logged and does not stop the others or the publisher.

Topics used by streamdash (payloads are plain JSON-ready dicts or lists of them):

* ``ingest_error`` — one failed ingestion attempt (see ``sources``)
* ``rejections``   — a list of quarantined records (``Rejection.to_dict()``)
* ``late``         — a list of late records
* ``window``       — a list of closed window aggregates
* ``alert``        — one alert state transition
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("streamdash.events")

Subscriber = Callable[[Any], None]


class EventBus:
    """Topic → subscribers; ``publish`` calls each subscriber of the topic in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, tuple[Subscriber, ...]] = {}

    def subscribe(self, topic: str, fn: Subscriber) -> None:
        """Call ``fn(payload)`` for every event published on ``topic``."""
        with self._lock:
            self._subs[topic] = self._subs.get(topic, ()) + (fn,)

    def publish(self, topic: str, payload: Any) -> None:
        """Deliver ``payload`` to the topic's subscribers (nothing happens when there are none)."""
        for fn in self._subs.get(topic, ()):
            try:
                fn(payload)
            except Exception:
                log.exception("event subscriber failed", extra={"ctx": {"topic": topic}})

    def has_subscribers(self, topic: str) -> bool:
        """True when publishing on ``topic`` would reach someone (skip building big payloads)."""
        return bool(self._subs.get(topic))
