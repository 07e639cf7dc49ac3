"""Bounded, thread-safe store of rejected records (the dead-letter queue).

Every rejection is counted (in total and by source) forever; the newest ``capacity`` are kept
in memory for the dashboard and the API; and, when an event bus is given, each batch of
rejections is published on its ``rejections`` topic (a list of :class:`~streamdash.models.
Rejection`; subscribers call ``to_dict()``) for persistence. Adding costs O(1) per rejection:
reasons are found only when read (``Rejection`` explains itself lazily), so a flood of invalid
records is no slower to quarantine than valid records are to store. :func:`write_jsonl`
exports rejections as JSON Lines (``streamdash dlq export``).
"""

from __future__ import annotations

import json
import threading
from collections import Counter, deque
from collections.abc import Iterable
from typing import IO, Any

import orjson

from ..models import Rejection
from .recent import newer_than


class Quarantine:
    """Keeps the newest ``capacity`` rejections and counts every one (in total, by source).

    Older rejections leave the in-memory store when it is full but stay counted (and the
    persistence layer, when configured, receives them): nothing is lost silently.
    """

    def __init__(self, capacity: int = 1000, events: Any = None):
        self.capacity = capacity
        self.events = events
        self._items: deque[Rejection] = deque(maxlen=capacity)
        self._by_source: Counter[str] = Counter()
        self._total = 0
        self._lock = threading.Lock()

    def add_many(self, rejections: Iterable[Rejection]) -> None:
        """Store rejections (the newest ``capacity``), count them and publish them."""
        batch = rejections if isinstance(rejections, list) else list(rejections)
        if not batch:
            return
        sources = Counter(r.source for r in batch)
        with self._lock:
            self._items.extend(batch[-self.capacity:])
            self._total += len(batch)
            self._by_source.update(sources)
        events = self.events
        if events is not None and events.has_subscribers("rejections"):
            events.publish("rejections", batch)

    def by_source(self) -> dict[str, int]:
        """Rejections ever added, per source."""
        with self._lock:
            return dict(self._by_source)

    @property
    def total(self) -> int:
        """Rejections ever added."""
        return self._total

    def by_reason(self) -> dict[str, int]:
        """Counts of the reasons (``field:rule`` → n) of the rejections held in memory."""
        counts: Counter[str] = Counter()
        for rej in self.recent():
            counts.update(reason_key(reason) for reason in rej.reasons)
        return dict(counts)

    def recent(self, limit: int | None = None) -> list[Rejection]:
        """The newest rejections, newest first."""
        with self._lock:
            items = list(self._items)
        items.reverse()
        return items[:limit] if limit else items

    def since(self, seen: int) -> tuple[list[dict[str, Any]], int]:
        """Rejections added after the ``seen``-th still held, oldest first, as dicts, and
        :attr:`total` (see ``recent.newer_than``)."""
        with self._lock:
            total = self._total
            items = newer_than(self._items, total, seen)
        return [r.to_dict() for r in items], total

    def to_dicts(self, limit: int | None = None) -> list[dict[str, Any]]:
        """JSON-ready copies of :meth:`recent`."""
        return [r.to_dict() for r in self.recent(limit)]


def write_jsonl(items: Iterable[dict[str, Any]], out: IO[bytes]) -> int:
    """Write JSON-ready rejection dicts as JSON Lines; returns how many were written.

    Values JSON cannot hold (NaN, bytes, odd objects) are written as strings rather than
    failing the export; text orjson refuses (a lone surrogate a hostile body escaped, which
    UTF-8 cannot hold) is written as a ``\\uXXXX`` escape.
    """
    n = 0
    for item in items:
        try:
            line = orjson.dumps(item, default=str, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:
            line = json.dumps(item, default=str).encode("ascii")
        out.write(line)
        out.write(b"\n")
        n += 1
    return n


def reason_key(reason: dict[str, Any]) -> str:
    """``field:rule`` label of one reason (``record:processing_error`` for whole-record ones)."""
    return f"{reason.get('field') or 'record'}:{reason.get('rule', 'invalid')}"
