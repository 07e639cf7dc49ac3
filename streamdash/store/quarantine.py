"""Bounded, thread-safe store of rejected records (the dead-letter queue)."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any

from ..models import Rejection


class Quarantine:
    """Keeps the newest ``capacity`` rejections and counts every one by reason, forever.

    Older rejections leave the in-memory store when it is full but stay counted (and the
    persistence layer, when configured, keeps them all): nothing is lost silently.
    """

    def __init__(self, capacity: int = 1000):
        self.capacity = capacity
        self._items: deque[Rejection] = deque(maxlen=capacity)
        self._by_reason: Counter[str] = Counter()
        self._total = 0
        self._lock = threading.Lock()

    def add_many(self, rejections: Iterable[Rejection]) -> None:
        """Store rejections and count each of their reasons (``field:rule``)."""
        with self._lock:
            for rej in rejections:
                self._items.append(rej)
                self._total += 1
                for reason in rej.reasons:
                    self._by_reason[reason_key(reason)] += 1

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


def reason_key(reason: dict[str, Any]) -> str:
    """``field:rule`` label of one reason (``record:processing_error`` for whole-record ones)."""
    return f"{reason.get('field') or 'record'}:{reason.get('rule', 'invalid')}"
