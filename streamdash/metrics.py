"""Thread-safe counters, gauges and latency histograms with a consistent ``snapshot()``.

The lock lives with the data: callers never lock, readers get copies.

The names the pipeline uses, with their kind, unit and meaning, are declared once in
:mod:`streamdash.metric_catalog` (``PIPELINE``). Every record is counted in exactly one
outcome (``metric_catalog.OUTCOMES``), so ``records_in`` equals the sum of the
``records_<outcome>`` counters once the queue is drained.
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

#: Upper bounds (seconds) of latency histogram buckets, Prometheus style.
LATENCY_BUCKETS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Histogram:
    """Cumulative bucket counts plus a bounded reservoir of recent values for percentiles.

    Not locked itself: :class:`Metrics` holds the lock.
    """

    __slots__ = ("buckets", "counts", "count", "sum", "max", "recent")

    def __init__(self, buckets: Iterable[float] = LATENCY_BUCKETS, recent: int = 2048):
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)
        self.count = 0
        self.sum = 0.0
        self.max = 0.0
        self.recent: deque[float] = deque(maxlen=recent)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.count += 1
        self.sum += value
        if value > self.max:
            self.max = value
        self.recent.append(value)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.recent)
        cumulative, running = [], 0
        for c in self.counts:
            running += c
            cumulative.append(running)
        return {"count": self.count, "sum": self.sum, "max": self.max,
                "p50": percentile(ordered, 50), "p95": percentile(ordered, 95),
                "p99": percentile(ordered, 99),
                "buckets": list(zip(self.buckets + (float("inf"),), cumulative, strict=True))}


def percentile(ordered: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an already sorted list (``None`` when empty)."""
    if not ordered:
        return None
    rank = max(1, min(len(ordered), int(round(pct / 100 * len(ordered) + 0.4999))))
    return ordered[rank - 1]


class Metrics:
    """Counters, gauges and histograms behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, float] = {}
        self._gauges: dict[str, float] = {}
        self._hist: dict[str, Histogram] = {}

    def inc(self, name: str, amount: float = 1) -> None:
        """Add ``amount`` to a counter (created at 0)."""
        with self._lock:
            self._counters[name] = self._counters.get(name, 0) + amount

    def add_many(self, amounts: dict[str, float]) -> None:
        """Add to several counters at once, atomically (keeps identities consistent)."""
        with self._lock:
            for name, amount in amounts.items():
                self._counters[name] = self._counters.get(name, 0) + amount

    def set_gauge(self, name: str, value: float) -> None:
        """Set a gauge to ``value``."""
        with self._lock:
            self._gauges[name] = value

    def observe(self, name: str, value: float) -> None:
        """Record one observation (seconds) in a histogram."""
        with self._lock:
            hist = self._hist.get(name)
            if hist is None:
                hist = self._hist[name] = Histogram()
            hist.observe(value)

    def counter(self, name: str) -> float:
        """Current value of one counter (0 when never incremented)."""
        with self._lock:
            return self._counters.get(name, 0)

    def gauge(self, name: str, default: float | None = None) -> float | None:
        """Current value of one gauge."""
        with self._lock:
            return self._gauges.get(name, default)

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy: ``{"counters": {...}, "gauges": {...}, "histograms": {...}}``."""
        with self._lock:
            return {"counters": dict(self._counters), "gauges": dict(self._gauges),
                    "histograms": {n: h.summary() for n, h in self._hist.items()}}
