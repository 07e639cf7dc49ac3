"""Bounded, thread-safe store of rejected records (the dead-letter queue).

Every rejection is counted by reason forever; the newest ``capacity`` are kept in memory for
the dashboard and the API; and, when an event bus is given, each batch of rejections is
published on its ``rejections`` topic (``Rejection.to_dict()`` dicts) for persistence, which
keeps them all. :func:`write_jsonl` exports rejections as JSON Lines (``streamdash dlq export``).
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Iterable
from typing import IO, Any

import orjson

from ..models import Rejection


class Quarantine:
    """Keeps the newest ``capacity`` rejections and counts every one by reason, forever.

    Older rejections leave the in-memory store when it is full but stay counted (and the
    persistence layer, when configured, keeps them all): nothing is lost silently.
    """

    def __init__(self, capacity: int = 1000, events: Any = None):
        self.capacity = capacity
        self.events = events
        self._items: deque[Rejection] = deque(maxlen=capacity)
        self._by_reason: Counter[str] = Counter()
        self._by_source: Counter[str] = Counter()
        self._total = 0
        self._lock = threading.Lock()

    def add_many(self, rejections: Iterable[Rejection]) -> None:
        """Store rejections, count each of their reasons (``field:rule``) and publish them."""
        batch = list(rejections)
        if not batch:
            return
        with self._lock:
            for rej in batch:
                self._items.append(rej)
                self._total += 1
                self._by_source[rej.source] += 1
                for reason in rej.reasons:
                    self._by_reason[reason_key(reason)] += 1
        events = self.events
        if events is not None and events.has_subscribers("rejections"):
            events.publish("rejections", [r.to_dict() for r in batch])

    def by_source(self) -> dict[str, int]:
        """Rejections ever added, per source."""
        with self._lock:
            return dict(self._by_source)

    @property
    def total(self) -> int:
        """Rejections ever added."""
        return self._total

    def by_reason(self) -> dict[str, int]:
        """Counts of every reason ever seen (``field:rule`` → n)."""
        with self._lock:
            return dict(self._by_reason)

    def recent(self, limit: int | None = None) -> list[Rejection]:
        """The newest rejections, newest first."""
        with self._lock:
            items = list(self._items)
        items.reverse()
        return items[:limit] if limit else items

    def to_dicts(self, limit: int | None = None) -> list[dict[str, Any]]:
        """JSON-ready copies of :meth:`recent`."""
        return [r.to_dict() for r in self.recent(limit)]


def write_jsonl(items: Iterable[dict[str, Any]], out: IO[bytes]) -> int:
    """Write JSON-ready rejection dicts as JSON Lines; returns how many were written.

    Values JSON cannot hold (NaN, bytes, odd objects) are written as strings rather than
    failing the export.
    """
    n = 0
    for item in items:
        out.write(orjson.dumps(item, default=str, option=orjson.OPT_NON_STR_KEYS))
        out.write(b"\n")
        n += 1
    return n


def reason_key(reason: dict[str, Any]) -> str:
    """``field:rule`` label of one reason (``record:processing_error`` for whole-record ones)."""
    return f"{reason.get('field') or 'record'}:{reason.get('rule', 'invalid')}"
