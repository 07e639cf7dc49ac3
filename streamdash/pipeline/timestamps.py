"""Event-time parsing: ISO-8601 (naive = UTC) and epoch seconds/milliseconds, all to UTC.

Times are carried through the pipeline as epoch seconds (``float``, UTC). The hot path
(:class:`TimestampParser`) recognises the canonical ``YYYY-MM-DDTHH:MM:SS.mmmZ`` shape by
slicing and two dictionary look-ups; everything else goes through :func:`parse_timestamp`.
Both give the same float for the same instant: the canonical value is computed as
``whole_milliseconds / 1000`` (one correctly rounded division), which is exactly what
``datetime.timestamp()`` returns for a millisecond instant, so comparisons in the late and
window rules agree with a plain ``datetime`` implementation to the last bit.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

#: Epoch values at or above this magnitude are milliseconds when the unit is ``auto``
#: (1e11 s is the year 5138; 1e11 ms is March 1973).
AUTO_MS_THRESHOLD = 1e11
#: The range ``datetime`` can represent (years 1–9999), in epoch seconds.
MIN_EPOCH = -62_135_596_800.0
MAX_EPOCH = 253_402_300_799.999
#: ISO strings longer than this are not timestamps (keeps a huge string from costing time).
MAX_ISO_LENGTH = 64

UNITS = ("auto", "s", "ms")

#: ``".000Z"`` … ``".999Z"`` → milliseconds; the look-up both converts and validates (an
#: ``int()`` call would accept signs and non-ASCII digits).
TAILS: dict[str, int] = {f".{i:03d}Z": i for i in range(1000)}
#: ``v[SECOND]`` is ``v[:19]`` and ``v[TAIL]`` is ``v[19:]``: on Python 3.11 a literal slice
#: builds a slice object each time it runs, a bound one is loaded (the hot path is ~10 %
#: faster, measured).
SECOND, TAIL = slice(None, 19), slice(19, None)


def parse_timestamp(value: Any, unit: str = "auto") -> float | None:
    """Epoch seconds (UTC) of ``value``, or ``None`` when it is not a timestamp.

    Strings are ISO-8601 (``Z`` or an offset; without one they are UTC). Numbers (not bool)
    are epoch seconds, or milliseconds with ``unit="ms"`` or, with ``unit="auto"``, when their
    magnitude is at least 1e11. NaN, infinities and instants outside years 1–9999 are refused.
    """
    tv = type(value)
    if tv is str:
        if not value or len(value) > MAX_ISO_LENGTH:
            return None
        text = value[:-1] + "+00:00" if value[-1] in "Zz" else value  # 3.10 lacks 'Z'
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        try:
            return dt.timestamp()
        except (OverflowError, ValueError):  # pragma: no cover - offsets at the year limits
            return None
    if tv is int or tv is float:
        if not math.isfinite(value):
            return None
        if unit == "ms" or (unit == "auto" and abs(value) >= AUTO_MS_THRESHOLD):
            secs = value / 1000
        else:
            secs = float(value)
        return secs if MIN_EPOCH <= secs <= MAX_EPOCH else None
    return None


def is_canonical(value: Any) -> bool:
    """True for strings already in the stored form ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC)."""
    return (type(value) is str and len(value) == 24 and value[23] == "Z" and value[19] == "."
            and value[4] == "-" and value[10] == "T")


class TimestampParser:
    """Parses event times, caching the whole seconds of canonical strings.

    ``seconds`` maps ``"YYYY-MM-DDTHH:MM:SS"`` (19 characters) to whole epoch milliseconds;
    the hot path is then ``(seconds[v[:19]] + TAILS[v[19:]]) / 1000`` — two slices and two
    subscripts, no call. A stream's events cluster in time, so nearly every record hits a
    second already seen. The cache is filled only by :meth:`slow` after a full, strict parse,
    and cleared when it reaches ``cache_size`` entries (a stream moves forward in time, so old
    seconds are not needed again).
    """

    def __init__(self, unit: str = "auto", cache_size: int = 100_000):
        self.unit = unit
        self.cache_size = cache_size
        self.seconds: dict[str, int] = {}

    def slow(self, value: Any) -> float | None:
        """Full parse of ``value``; remembers the second of canonical strings."""
        t = parse_timestamp(value, self.unit)
        tail = TAILS.get(value[TAIL]) if t is not None and is_canonical(value) else None
        if tail is not None:
            if len(self.seconds) >= self.cache_size:
                self.seconds.clear()
            # t is the whole milliseconds / 1000, correctly rounded: t * 1000 lies within far
            # less than half a millisecond of them (years 1-9999), so round() gives them back
            # without parsing the second again (~10 new seconds a batch in the benchmark).
            self.seconds[value[SECOND]] = round(t * 1000) - tail
        return t

    def __call__(self, value: Any) -> float | None:
        """Epoch seconds of ``value`` (``None`` when invalid): fast path, then :meth:`slow`."""
        try:
            return (self.seconds[value[SECOND]] + TAILS[value[TAIL]]) / 1000
        except (KeyError, TypeError, IndexError):
            return self.slow(value)


def parse_time_setting(key: str, value: Any) -> float:
    """A timestamp given in the settings (``min``/``max`` of a timestamp field)."""
    from ..errors import ConfigError

    t = parse_timestamp(value)
    if t is None or isinstance(value, bool):
        raise ConfigError(key, f"expected an ISO-8601 time or epoch seconds, got {value!r}")
    return t
