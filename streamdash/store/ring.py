"""A fixed-capacity, thread-safe ring buffer of records with sequence numbers."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any


class RingBuffer:
    """Keeps the newest ``capacity`` records; each gets a monotonically increasing ``seq``.

    Appends are O(1) per record. Readers get copies (a new list of ``(seq, record)`` tuples,
    each record a shallow copy), never the live slots, so they may keep or mutate what they read.
    Sequence numbers start at 1 and never repeat within one buffer, which lets a reader ask for
    "everything after seq N" and receive only what is new.

    Up to ``headroom`` older records (default a tenth of ``capacity``) are held unseen until
    :meth:`make_room` frees them just before the next batch is processed: the allocator then
    gives that batch's records the memory just freed, still in the CPU cache, instead of the
    memory of records stored ten batches ago (measured +3 % on the pipeline benchmark).
    """

    def __init__(self, capacity: int = 10_000, headroom: int | None = None):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.headroom = capacity // 10 if headroom is None else max(0, headroom)
        self._size = capacity + self.headroom  # slots; the slot of seq s is (s - 1) % _size
        self._slots: list[Any] = [None] * self._size
        self._last_seq = 0  # seq of the newest record
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> int:
        """Store one record; returns its sequence number."""
        with self._lock:
            self._last_seq += 1
            self._slots[(self._last_seq - 1) % self._size] = record
            return self._last_seq

    def extend(self, records: Iterable[dict[str, Any]]) -> int:
        """Store several records in order under one lock; returns the last sequence number.

        The batch is copied in with at most two slice assignments (before and after the
        wrap-around), done in C: a per-slot Python loop cost ~25 % of the pipeline benchmark.
        """
        if not isinstance(records, list):
            records = list(records)
        n = len(records)
        with self._lock:
            cap, slots, seq = self._size, self._slots, self._last_seq
            if n > cap:  # only the newest ``cap`` survive; their slots are as if all were written
                skip = n - cap
                records = records[skip:]
                seq += skip
                n = cap
            start = seq % cap
            first = min(n, cap - start)
            slots[start:start + first] = records[:first] if first < n else records
            if first < n:
                slots[:n - first] = records[first:]
            self._last_seq = seq + n
            return self._last_seq

    def make_room(self, n: int) -> None:
        """Free now the records the next ``extend`` of ``n`` records will replace, as far as
        they are unseen ones (beyond the newest ``capacity``): readers see nothing change."""
        with self._lock:
            size, slots, last = self._size, self._slots, self._last_seq
            # The next extend writes seqs last+1 … last+n over seqs last+1-size … last+n-size.
            lo = max(1, last + 1 - size)
            k = min(last + n - size, last - self.capacity) - lo + 1
            if k > 0:
                start = (lo - 1) % size
                first = min(k, size - start)
                slots[start:start + first] = [None] * first
                if first < k:
                    slots[:k - first] = [None] * (k - first)

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest record (0 when empty)."""
        return self._last_seq

    def __len__(self) -> int:
        return min(self._last_seq, self.capacity)

    def after(self, seq: int = 0, limit: int | None = None) -> list[tuple[int, dict[str, Any]]]:
        """Records with sequence number greater than ``seq``, oldest first.

        Only records still held are returned (the oldest may have been overwritten). ``limit``
        keeps the newest ``limit`` of them. A ``seq`` ahead of the buffer (a reader that saw
        another buffer, e.g. before a restart) yields nothing: compare with :attr:`last_seq`.
        """
        with self._lock:
            last = self._last_seq
            first = max(seq + 1, last - min(last, self.capacity) + 1)
            if limit is not None:
                first = max(first, last - limit + 1)
            size, slots = self._size, self._slots
            return [(s, dict(slots[(s - 1) % size])) for s in range(first, last + 1)]

    def snapshot(self, limit: int | None = None) -> list[tuple[int, dict[str, Any]]]:
        """Every record held (or the newest ``limit``), oldest first, as copies."""
        return self.after(0, limit)

    def latest(self) -> tuple[int, dict[str, Any]] | None:
        """The newest ``(seq, record)`` or ``None`` when empty."""
        items = self.after(0, 1)
        return items[0] if items else None
