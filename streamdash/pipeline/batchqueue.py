"""The queue between producer and consumer, bounded in batches, records and bytes.

A bound in batches alone is no bound: one HTTP response of 900k (invalid) objects is one batch,
and a hundred of them took 21.8 GB (issue 13). :class:`BatchQueue` refuses a batch when it would
take the queue past any of its three limits — ``maxsize`` batches, ``max_records`` records,
``max_bytes`` bytes (an estimate of the records' memory, see :func:`approx_bytes`) — so what
waits between the threads stays bounded whatever the sources send. The producer splits big
fetches into batches of at most ``queue.max_batch_records`` first, so each batch fits.

It offers the parts of :class:`queue.Queue` the workers use (``put``/``put_nowait`` raising
``queue.Full``, ``get``/``get_nowait`` raising ``queue.Empty``, ``qsize``, ``maxsize``), plus
:meth:`BatchQueue.fill` and :meth:`BatchQueue.stats` for health and metrics.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from ..models import Batch

#: Records measured per batch to estimate its size (evenly spaced; the estimate scales up).
SAMPLE = 8
#: The three limits, as named in ``queue.Full`` and in the ``queue_full_<limit>`` counters.
LIMITS = ("batches", "records", "bytes")


def approx_bytes(records: Sequence[Any]) -> int:
    """Estimated memory of ``records``: the mean shallow size of a few of them (a dict, its
    keys and values; a raw line) times their number. An estimate, cheap whatever the batch:
    nested values count by their container only."""
    n = len(records)
    if not n:
        return 0
    step = max(1, n // SAMPLE)
    sample = records[::step][:SAMPLE]
    size = sys.getsizeof
    total = 0
    for rec in sample:
        total += size(rec)
        if type(rec) is dict:
            for k, v in rec.items():
                total += size(k) + size(v)
    return total * n // len(sample)


class BatchQueue:
    """A FIFO of :class:`~streamdash.models.Batch` bounded in batches, records and bytes.

    An empty queue takes any batch (one bigger than a limit must still pass, or nothing
    would); otherwise a batch waits until it fits under all three limits. ``queue.Full``
    carries the name of the limit that refused it (``batches``, ``records`` or ``bytes``).
    """

    def __init__(self, maxsize: int, max_records: int, max_bytes: int,
                 sizer: Callable[[Sequence[Any]], int] = approx_bytes):
        self.maxsize = maxsize
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.sizer = sizer
        self._items: deque[tuple[Batch, int]] = deque()
        self._records = 0
        self._bytes = 0
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)

    # -- the queue.Queue subset the workers use ------------------------------------------------
    def put(self, batch: Batch, block: bool = True, timeout: float | None = None) -> None:
        """Queue ``batch``; ``queue.Full`` when it does not fit (at once, or after ``timeout``)."""
        size = self.sizer(batch.records)
        n = len(batch.records)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._not_full:
            limit = self._over(n, size)
            while limit is not None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if not block or (remaining is not None and remaining <= 0):
                    raise queue.Full(limit)
                self._not_full.wait(remaining)
                limit = self._over(n, size)
            self._items.append((batch, size))
            self._records += n
            self._bytes += size
            self._not_empty.notify()

    def put_nowait(self, batch: Batch) -> None:
        """``put`` without waiting."""
        self.put(batch, block=False)

    def get(self, block: bool = True, timeout: float | None = None) -> Batch:
        """The oldest batch; ``queue.Empty`` when there is none (at once, or after ``timeout``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._not_empty:
            while not self._items:
                remaining = None if deadline is None else deadline - time.monotonic()
                if not block or (remaining is not None and remaining <= 0):
                    raise queue.Empty
                self._not_empty.wait(remaining)
            batch, size = self._items.popleft()
            self._records -= len(batch.records)
            self._bytes -= size
            self._not_full.notify_all()  # several smaller batches may fit now
            return batch

    def get_nowait(self) -> Batch:
        """``get`` without waiting."""
        return self.get(block=False)

    def qsize(self) -> int:
        """Batches queued."""
        with self._lock:
            return len(self._items)

    # -- health --------------------------------------------------------------------------------
    def _over(self, n: int, size: int) -> str | None:
        """The first limit a batch of ``n`` records and ``size`` bytes would exceed (caller
        holds the lock); ``None`` when it fits or the queue is empty."""
        if not self._items:
            return None
        if len(self._items) + 1 > self.maxsize:
            return "batches"
        if self._records + n > self.max_records:
            return "records"
        if self._bytes + size > self.max_bytes:
            return "bytes"
        return None

    def fill(self) -> float:
        """How full the queue is: the highest of its three ratios (0–1, above 1 only when one
        batch alone exceeds a limit)."""
        with self._lock:
            return max(len(self._items) / self.maxsize, self._records / self.max_records,
                       self._bytes / self.max_bytes)

    def stats(self) -> dict[str, Any]:
        """Depth and capacity in batches, records and bytes, and the fill ratio."""
        with self._lock:
            depth, records, size = len(self._items), self._records, self._bytes
        fill = max(depth / self.maxsize, records / self.max_records, size / self.max_bytes)
        return {"depth": depth, "capacity": self.maxsize, "records": records,
                "max_records": self.max_records, "bytes": size, "max_bytes": self.max_bytes,
                "fill": round(fill, 4)}
