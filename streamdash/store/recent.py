"""A bounded, thread-safe log of recent events (ingestion errors, windows, late records)."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def newer_than(held: Sequence[T], total: int, seen: int) -> list[T]:
    """The items of a bounded log added after the ``seen``-th, oldest first.

    ``held`` are the newest items (oldest first) of ``total`` ever added: the item at ``held[i]``
    is the ``total - len(held) + 1 + i``-th. Items added after ``seen`` but no longer held are
    not returned: the caller sees how many by ``total - seen - len(result)``. This is how a
    follower (the state publisher) reads any of the runtime's bounded logs incrementally.
    """
    new = total - seen
    if new <= 0:
        return []
    if new >= len(held):
        return list(held)
    out = list(itertools.islice(reversed(held), new))  # O(new), for a deque too
    out.reverse()
    return out


class RecentLog:
    """Keeps the newest ``capacity`` items and counts every item ever added.

    Items are JSON-ready dicts; readers get shallow copies, newest first.
    """

    def __init__(self, capacity: int = 500):
        self.capacity = capacity
        self._items: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._total = 0
        self._lock = threading.Lock()

    def add(self, item: dict[str, Any]) -> None:
        """Append one item."""
        with self._lock:
            self._items.append(item)
            self._total += 1

    def add_many(self, items: Iterable[dict[str, Any]]) -> None:
        """Append several items in order (one ``extend``, in C: ~100 closed windows a batch)."""
        batch = items if isinstance(items, list) else list(items)
        with self._lock:
            self._items.extend(batch)
            self._total += len(batch)

    def restore(self, items: Iterable[dict[str, Any]]) -> None:
        """Put back items kept from an earlier run (oldest first), without counting them in
        :attr:`total`, which counts what this run added."""
        with self._lock:
            self._items.extend(items)

    def extend_from(self, payload: Any) -> None:
        """Event-bus subscriber: accepts one dict or a list of dicts."""
        if isinstance(payload, dict):
            self.add(payload)
        else:
            self.add_many(payload)

    @property
    def total(self) -> int:
        """Items ever added (including those no longer held)."""
        return self._total

    def __len__(self) -> int:
        return len(self._items)

    def since(self, seen: int) -> tuple[list[dict[str, Any]], int]:
        """Items added after the ``seen``-th still held (oldest first, copies) and
        :attr:`total` (see :func:`newer_than`)."""
        with self._lock:
            total = self._total
            # Restored items are never new: they precede every counted one, and at most
            # ``total - seen`` items are returned.
            items = newer_than(self._items, total, seen)
        return [dict(i) for i in items], total

    def recent(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The newest items first (at most ``limit``), as copies."""
        with self._lock:
            items = list(self._items)
        items.reverse()
        return [dict(i) for i in (items[:limit] if limit else items)]
