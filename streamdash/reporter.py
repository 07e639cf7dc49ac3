"""Periodic metrics snapshots: rates over the last interval, for history and the log summary.

The :class:`Reporter` thread wakes every ``storage.snapshot_interval`` seconds (default 10),
turns the runtime's cumulative counters into the figures an operator charts (throughput,
latency percentiles, error and data-quality rates, queue and buffer fill, drops, restarts),
keeps the recent ones in memory, hands each to the history store when there is one, and logs an
INFO summary every ``log.summary_interval`` seconds. On ``stop()`` it takes one last snapshot, so
the final figures reach the store before it is flushed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from . import metric_catalog
from .logs import log_event
from .metrics import Metrics
from .store.recent import newer_than
from .threads import STOP_TIMEOUT, Background, ThreadRunner

log = logging.getLogger("streamdash.reporter")

#: Every value a snapshot holds → its meaning (declared in ``metric_catalog.SNAPSHOT``; the query
#: API and the CLI accept these names).
SNAPSHOT_FIELDS = metric_catalog.SNAPSHOT_FIELDS


def _rate(part: float, whole: float) -> float:
    return part / whole if whole > 0 else 0.0


def derive(prev: dict[str, float], cur: dict[str, Any], seconds: float) -> dict[str, float]:
    """One snapshot from two metrics snapshots ``seconds`` apart (``prev`` counters may be {}).

    Pure: rates are deltas over the interval; percentiles come from the histograms' recent
    observations; gauges are read as they are now.
    """
    c, g, h = cur["counters"], cur["gauges"], cur["histograms"]

    def delta(name: str) -> float:
        return max(0.0, c.get(name, 0) - prev.get(name, 0))

    processed = sum(delta(name) for name in metric_catalog.PROCESSED)
    attempts = delta("fetches") + delta("fetch_errors")
    lat = h.get("end_to_end_latency_seconds", {})
    batch = h.get("batch_processing_seconds", {})
    fetch = h.get("fetch_seconds", {})
    qcap, bcap = g.get("queue_capacity") or 0, g.get("buffer_capacity") or 0
    per_s = 1 / seconds if seconds > 0 else 0.0
    out = {
        "throughput_in": delta("records_in") * per_s,
        "throughput_out": delta("records_accepted") * per_s,
        "latency_p50": lat.get("p50"), "latency_p95": lat.get("p95"),
        "latency_p99": lat.get("p99"),
        "batch_p50": batch.get("p50"), "batch_p95": batch.get("p95"),
        "batch_p99": batch.get("p99"), "fetch_p95": fetch.get("p95"),
        "error_rate": _rate(delta("fetch_errors"), attempts),
        "invalid_rate": _rate(delta("records_rejected"), processed),
        "duplicate_rate": _rate(delta("records_duplicate"), processed),
        "late_rate": _rate(delta("records_late"), processed),
        "filtered_rate": _rate(delta("records_filtered"), processed),
        "null_rate": _rate(delta("records_with_null"), delta("records_accepted")),
        "queue_depth": g.get("queue_depth", 0),
        # The runtime's queue reports its own fill (batches, records or bytes, the fullest).
        "queue_fill": g["queue_fill"] if "queue_fill" in g else _rate(g.get("queue_depth", 0),
                                                                       qcap),
        "buffer_fill": _rate(g.get("buffer_size", 0), bcap),
        "dropped": delta("records_dropped"),
        "restarts": c.get("thread_restarts", 0),
        "fetch_errors": c.get("fetch_errors", 0),
        "interval_s": seconds,
    }
    for name in ("in", *metric_catalog.OUTCOMES):
        out[f"records_{name}"] = c.get(f"records_{name}", 0)
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in out.items()}


def count_nulls(metrics: Metrics) -> Callable[[Any, Any], None]:
    """A batch listener counting accepted records with a null field (``records_with_null``).

    Accepted only, as the quality monitor counts them: a null rate is a property of the data
    that was kept (a rejected record's nulls are in its quarantine reasons), and the history
    chart and the alert rule must show the same number.
    """

    def listener(batch: Any, result: Any) -> None:
        n = records_with_null(result.accepted)
        if n:
            metrics.inc("records_with_null", n)

    return listener


def records_with_null(records: list[Any]) -> int:
    """How many of ``records`` are dicts with at least one ``None`` value.

    ``None in rec.values()`` scans in C (identity is tested first), ~2× cheaper than a Python
    generator per record; the few hits are confirmed with ``is None``, so a value whose
    ``__eq__`` claims equality with ``None`` cannot count. (``ProcessResult.nulls`` cannot
    replace this: it counts nulls per declared field among every valid record, duplicates and
    late ones included, not accepted records holding any null.)
    """
    try:
        hits = [r for r in records if isinstance(r, dict) and None in r.values()]
    except Exception:  # a value whose __eq__ raises: the plain walk never compares
        hits = [r for r in records if isinstance(r, dict)]
    return sum(1 for r in hits if any(v is None for v in r.values()))


class Reporter(Background):
    """Takes a snapshot every ``interval`` s on its own thread; see the module docstring.

    ``sink(values, ts)`` receives each snapshot (the history store's ``record_snapshot``).
    ``recent`` keeps the last ``keep`` snapshots for the API when nothing is persisted.
    """

    def __init__(self, metrics: Metrics, interval: float = 10.0, *,
                 sink: Callable[[dict[str, Any], float], Any] | None = None,
                 summary_interval: float = 60.0, keep: int = 720, source: str = "",
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic):
        self.metrics = metrics
        self.interval = interval
        self.sink = sink
        self.summary_interval = summary_interval
        self.source = source
        self.clock = clock
        self.monotonic = monotonic
        self.recent: deque[dict[str, Any]] = deque(maxlen=keep)
        self.taken = 0  # snapshots ever taken (``recent`` keeps the newest)
        self._lock = threading.Lock()
        self._prev: dict[str, float] = {}
        self._prev_at: float | None = None
        self._summary_prev: dict[str, float] = {}
        self._summary_at: float | None = None
        self._runner = ThreadRunner("reporter", self._run)

    def start(self) -> None:
        """Start the snapshot thread (idempotent)."""
        if self._runner.alive:
            return
        now = self.monotonic()
        with self._lock:
            self._prev = dict(self.metrics.snapshot()["counters"])
            self._prev_at = self._summary_at = now
            self._summary_prev = dict(self._prev)
        self._runner.start()

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Stop the thread, then take the final snapshot (once: idempotent); True when the
        thread ended within ``timeout``."""
        if not self._runner.alive:
            return True
        ended = self._runner.stop(timeout)
        self.snapshot()
        self._summary(force=True)
        return ended

    def _run(self) -> None:
        while not self._runner.stopping.wait(self.interval):
            try:
                self.snapshot()
                self._summary()
            except Exception:  # a bad metric must not end the reporting
                log.exception("metrics snapshot failed")

    def snapshot(self) -> dict[str, Any]:
        """Take one snapshot now: derive it, keep it, hand it to the sink; returns it."""
        ts, now = self.clock(), self.monotonic()
        cur = self.metrics.snapshot()
        with self._lock:
            seconds = now - self._prev_at if self._prev_at is not None else 0.0
            values = derive(self._prev, cur, seconds)
            self._prev, self._prev_at = dict(cur["counters"]), now
            self.recent.append({"ts": ts, **values})
            self.taken += 1
        if self.sink is not None:
            self.sink(values, ts)
        return values

    def _summary(self, force: bool = False) -> None:
        if self.summary_interval <= 0 and not force:
            return
        now = self.monotonic()
        if not force and self._summary_at is not None \
                and now - self._summary_at < self.summary_interval:
            return
        cur = self.metrics.snapshot()
        seconds = now - (self._summary_at or now)
        values = derive(self._summary_prev, cur, seconds)
        self._summary_prev, self._summary_at = dict(cur["counters"]), now
        log_event(log, logging.INFO, "pipeline summary", source=self.source,
                  seconds=round(seconds, 1), records_in=values["records_in"],
                  accepted=values["records_accepted"], rejected=values["records_rejected"],
                  throughput_in=round(values["throughput_in"], 2),
                  invalid_rate=round(values["invalid_rate"], 4),
                  error_rate=round(values["error_rate"], 4), latency_p95=values["latency_p95"],
                  queue_depth=values["queue_depth"], dropped=values["dropped"],
                  restarts=values["restarts"])

    def since(self, seen: int) -> tuple[list[dict[str, Any]], int]:
        """Snapshots (with their ``ts``) after the ``seen``-th still held, oldest first, and
        how many were taken (see ``store.recent.newer_than``)."""
        with self._lock:
            return [dict(r) for r in newer_than(self.recent, self.taken, seen)], self.taken

    def series(self, names: list[str], since: float, until: float,
               limit: int) -> dict[str, list[tuple[float, Any]]]:
        """The in-memory snapshots as ``name → [(ts, value), …]`` (same shape as the store)."""
        with self._lock:
            rows = [r for r in self.recent if since <= r["ts"] <= until]
        return {n: [(r["ts"], r.get(n)) for r in rows][-limit:] for n in names}
