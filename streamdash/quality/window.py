"""The quality window: samples of cumulative counters, turned into the quality metrics.

:class:`BatchStats` is a batch listener (consumer thread) that counts what the pipeline's
counters do not: accepted records, records with a null field, nulls per field, and the newest
event time. :class:`QualityWindow` keeps timestamped samples of all cumulative counters and turns
the difference between the newest sample and the one at the start of the window into rates, so
every value is "over the last ``window`` seconds"; each metric's formula is declared with its
name in :data:`streamdash.metric_catalog.QUALITY`, this module only supplies the span the
formulas read. Times come from the caller (the monitor's
injectable clock), which makes the arithmetic deterministic under a fake clock.

Rates are fractions (0–1). A rate with nothing to divide by (no records in the window) is
``None``: *no data*, which each rule handles by its ``no_data`` setting.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from ..metric_catalog import FIELD_METRIC_PREFIX, PROCESSED, QUALITY, SAMPLED_COUNTERS, ratio

_SAMPLED = frozenset(SAMPLED_COUNTERS)


def event_time(value: Any) -> float | None:
    """Epoch seconds from an event time: ISO-8601 text, epoch s/ms number or datetime."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return None
        # Epoch milliseconds are 1000× larger than any plausible epoch seconds value.
        return value / 1000.0 if value > 1e11 else float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return event_time(datetime.fromisoformat(text))
        except ValueError:
            try:
                return event_time(float(text))
            except ValueError:
                return None
    return None


#: The canonical stored time ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (what the pipeline stores) with every
#: digit written as 0, and the table that writes digits so: for strings of this shape,
#: lexicographic order is chronological order.
_SHAPE = b"0000-00-00T00:00:00.000Z\n"
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")


def newest_event_time(values: list[Any]) -> float | None:
    """The largest :func:`event_time` among ``values`` (``None`` when none is a time).

    Exact, but parses as little as it can: when every string has the canonical stored shape
    (checked in C: the joined strings, digits mapped to 0, must equal the shape repeated), the
    newest is the lexicographically largest and only that one is parsed — ~100 ns a value
    instead of ~1.5 µs for parsing each. Anything else (other shapes, non-ASCII, a largest
    string that is not a real date) falls back to parsing every value.
    """
    strs = [v for v in values if type(v) is str]
    times: list[float] = []
    if len(strs) != len(values):  # numbers, datetimes, str subclasses, missing (None)
        times = [t for t in map(event_time, [v for v in values if type(v) is not str])
                 if t is not None]
    if strs:
        top = None
        try:
            joined = ("\n".join(strs) + "\n").encode("ascii")
        except UnicodeEncodeError:
            joined = b""
        # Equal to the shape repeated: one 24-character token per value, no value holding a
        # newline (the newlines all sit where the separators do).
        if joined.translate(_DIGITS_TO_ZERO) == _SHAPE * len(strs):
            top = event_time(max(strs))
        if top is None:
            times += [t for t in map(event_time, strs) if t is not None]
        else:
            times.append(top)
    return max(times) if times else None


class BatchStats:
    """Cumulative per-batch counts the quality metrics need; a ``runtime`` batch listener.

    Counts ``None`` values in the *accepted* records itself. (The processing chain's
    ``result.nulls`` covers every valid record, duplicates and late ones included; dividing
    that by the accepted count could even exceed 1, so numerator and denominator come from
    the same records here.)
    """

    def __init__(self, time_field: str = ""):
        self.time_field = time_field
        self._lock = threading.Lock()
        self.accepted = 0
        self.null_records = 0
        self.nulls: dict[str, int] = {}
        self.newest_event: float | None = None

    def __call__(self, batch: Any, result: Any) -> None:
        self.observe(result.accepted)

    def observe(self, records: list[Any]) -> None:
        """Count one batch of accepted records."""
        per_field: dict[str, int] = {}
        null_records = 0
        tf = self.time_field
        dicts = [r for r in records if isinstance(r, dict)]
        # Only records holding a None are walked field by field: ``None in values()`` scans in
        # C (identity first); the walk below confirms with ``is None``, so the counts are
        # exactly those of walking every record.
        try:
            with_null = [r for r in dicts if None in r.values()]
        except Exception:  # a value whose __eq__ raises: walk them all
            with_null = dicts
        for rec in with_null:
            has_null = False
            for key, value in rec.items():
                if value is None:
                    has_null = True
                    per_field[key] = per_field.get(key, 0) + 1
            null_records += has_null
        newest = newest_event_time([r.get(tf) for r in dicts]) if tf else None
        with self._lock:
            self.accepted += len(records)
            self.null_records += null_records
            for key, n in per_field.items():
                self.nulls[key] = self.nulls.get(key, 0) + n
            if newest is not None and (self.newest_event is None or newest > self.newest_event):
                self.newest_event = newest

    def snapshot(self) -> dict[str, Any]:
        """A copy: ``accepted``, ``null_records``, ``nulls`` (per field), ``newest_event``."""
        with self._lock:
            return {"accepted": self.accepted, "null_records": self.null_records,
                    "nulls": dict(self.nulls), "newest_event": self.newest_event}


class Sample:
    """Cumulative counters at one time ``t`` (epoch seconds)."""

    __slots__ = ("t", "counters", "nulls")

    def __init__(self, t: float, counters: Mapping[str, float], nulls: Mapping[str, int]):
        self.t = t
        self.counters = dict(counters)
        self.nulls = dict(nulls)


class QualityWindow:
    """Timestamped counter samples; :meth:`compute` turns them into windowed quality metrics.

    ``window`` is the sliding window (s); ``baseline`` the trailing period before the window
    whose throughput ``throughput_drop`` compares against. Samples older than both are pruned.
    Not thread-safe on its own: the monitor samples and computes from its one thread.
    """

    def __init__(self, window: float = 60.0, baseline: float = 600.0):
        if window <= 0:
            raise ValueError("window must be positive")
        self.window = window
        self.baseline = baseline
        self._samples: deque[Sample] = deque()

    def __len__(self) -> int:
        return len(self._samples)

    def add(self, t: float, counters: Mapping[str, float], nulls: Mapping[str, int]) -> None:
        """Record cumulative values at time ``t`` (a repeated ``t`` replaces the last sample)."""
        if self._samples and t <= self._samples[-1].t:
            # A clock that did not move (fake clock, coarse timer): keep the newest values.
            self._samples[-1] = Sample(self._samples[-1].t, counters, nulls)
        else:
            self._samples.append(Sample(t, counters, nulls))
        horizon = t - self.window - self.baseline
        # Keep one sample at or before the horizon so the oldest span stays measurable.
        while len(self._samples) > 2 and self._samples[1].t <= horizon:
            self._samples.popleft()

    def _at(self, t: float) -> Sample:
        """The newest sample taken at or before ``t`` (the oldest when none is)."""
        i = bisect_right(self._samples, t, key=_sample_time) - 1
        return self._samples[max(i, 0)]

    def compute(self, now: float, *, newest_event: float | None = None,
                last_success: float | None = None, watch_since: float | None = None,
                fields: Iterable[str] = (),
                waiting_since: float | None = None) -> dict[str, float | None]:
        """The quality metrics at ``now`` over the last ``window`` seconds.

        ``newest_event`` is the newest event time seen, ``last_success`` the last successful
        fetch and ``watch_since`` when watching began (the age used before any success).
        ``waiting_since`` is when the producer began waiting for room in a full queue (``None``
        when it is not waiting): the fetch age stops growing then — a producer held back by a
        slow consumer is not a source that is down — and ``backpressure_seconds`` tells how
        long it has waited. ``fields`` get a ``null_rate.<field>`` value even when they never
        held a null.
        """
        if not self._samples:
            return {}
        new = self._samples[-1]
        old = self._at(now - self.window)
        span = _Span(now, new, old, self._baseline_throughput(old), newest_event,
                     last_success if last_success is not None else watch_since, waiting_since)
        out: dict[str, float | None] = {m.name: m.compute(span) for m in QUALITY}
        for name in fields:
            out[FIELD_METRIC_PREFIX + name] = ratio(0, span.accepted)
        for key, n in new.nulls.items():
            if key.startswith("field:"):
                out[FIELD_METRIC_PREFIX + key[6:]] = ratio(n - old.nulls.get(key, 0),
                                                           span.accepted)
        return out

    def _baseline_throughput(self, window_start: Sample) -> float | None:
        """Records in per second over the ``baseline`` before the window (``None``: unknown)."""
        if self.baseline <= 0:
            return None
        first = self._samples[0]
        # The baseline needs history from before the window: at least half its length.
        span = window_start.t - first.t
        if span < self.baseline / 2:
            return None
        base_start = self._at(window_start.t - self.baseline)
        span = window_start.t - base_start.t
        base = (window_start.counters.get("records_in", 0)
                - base_start.counters.get("records_in", 0)) / span if span > 0 else 0
        return base if base > 0 else None


class _Span:
    """The window between two samples, as a quality metric's formula reads it (a
    :class:`~streamdash.metric_catalog.Span`)."""

    __slots__ = ("now", "seconds", "processed", "accepted", "null_records", "newest_event",
                 "fetch_since", "waiting_since", "baseline_throughput", "_new", "_old")

    def __init__(self, now: float, new: Sample, old: Sample, baseline_throughput: float | None,
                 newest_event: float | None, fetch_since: float | None,
                 waiting_since: float | None):
        self.now, self._new, self._old = now, new, old
        self.seconds = new.t - old.t
        self.processed = sum(self.delta(k) for k in PROCESSED)
        self.accepted = new.nulls.get("accepted", 0) - old.nulls.get("accepted", 0)
        self.null_records = new.nulls.get("null_records", 0) - old.nulls.get("null_records", 0)
        self.newest_event = newest_event
        self.fetch_since = fetch_since
        self.waiting_since = waiting_since
        self.baseline_throughput = baseline_throughput

    def delta(self, counter: str) -> float:
        """Growth of a sampled counter over the window (``KeyError`` for any other name, so a
        formula reading a counter the window does not sample fails its test, not reads 0)."""
        if counter not in _SAMPLED:
            raise KeyError(f"{counter!r} is not in metric_catalog.SAMPLED_COUNTERS")
        return self._new.counters.get(counter, 0) - self._old.counters.get(counter, 0)


def _sample_time(sample: Sample) -> float:
    return sample.t


def null_counters(stats: Mapping[str, Any]) -> dict[str, int]:
    """Flatten a :meth:`BatchStats.snapshot` into the cumulative values a sample holds."""
    out = {"accepted": stats["accepted"], "null_records": stats["null_records"]}
    out.update({f"field:{k}": v for k, v in stats["nulls"].items()})
    return out


def pick(counters: Mapping[str, float],
         names: Iterable[str] = SAMPLED_COUNTERS) -> dict[str, float]:
    """The sampled subset of a counters snapshot (missing counters read as 0)."""
    return {n: counters.get(n, 0) for n in names}
