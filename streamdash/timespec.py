"""Parse the time bounds of history queries: ISO-8601 instants or relative spans like ``15m``.

Shared by the HTTP query API and the ``streamdash metrics`` command so both accept the same
forms. Every parse error is a ``ValueError`` whose message names the parameter and the value.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
#: The instants a query may name: what UTC ISO-8601 (and so every answer's ``ts``) can show,
#: 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z. Anything outside (``since=99999999999d``,
#: ``until=9999-12-31T23:59:59-12:00``) is a bad parameter, not a crash while formatting.
EARLIEST = 0.0
LATEST = 253402300799.0


def parse_duration(text: str, param: str = "duration") -> float:
    """Seconds in a span like ``30s``, ``15m``, ``2h``, ``7d`` or ``1w``."""
    match = _RELATIVE.match(text or "")
    if not match:
        raise ValueError(f"{param}: expected a span like 30s, 15m, 2h, 7d or 1w, got {text!r}")
    seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if not seconds <= LATEST:  # also catches inf from a 400-digit number
        raise ValueError(f"{param}: span too long (at most {LATEST / 86400:.0f}d), got {text!r}")
    return seconds


def parse_time(text: str, now: float, param: str = "time") -> float:
    """Epoch seconds for ``now``, a relative span (``15m`` = 15 minutes ago) or ISO-8601.

    ISO-8601 without a zone is taken as UTC (``2026-01-02T03:04:05``, ``…Z``, ``…+02:00``).
    """
    text = (text or "").strip()
    if not text:
        raise ValueError(f"{param}: empty value (use an ISO-8601 time like "
                         "2026-01-02T03:04:05Z, a span like 15m, or 'now')")
    if text.lower() == "now":
        return now
    if _RELATIVE.match(text):
        return _in_range(now - parse_duration(text, param), param, text)
    try:
        dt = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"{param}: expected an ISO-8601 time like 2026-01-02T03:04:05Z, a span "
                         f"like 15m, or 'now', got {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    try:
        ts = dt.timestamp()
    except (OverflowError, ValueError):  # year 1 with a +14:00 offset is before year 1 in UTC
        ts = float("-inf")
    return _in_range(ts, param, text)


def _in_range(ts: float, param: str, text: str) -> float:
    if not EARLIEST <= ts <= LATEST:
        raise ValueError(f"{param}: out of range (1970-01-01T00:00:00Z to "
                         f"9999-12-31T23:59:59Z), got {text!r}")
    return ts


def parse_range(since: str | None, until: str | None, now: float,
                default_since: str = "1h") -> tuple[float, float]:
    """``(since, until)`` epoch seconds; ``until`` defaults to now; ``since`` must not follow it."""
    lo = parse_time(since if since is not None else default_since, now, "since")
    hi = parse_time(until, now, "until") if until is not None else now
    if lo > hi:
        raise ValueError(f"since ({since}) is after until ({until or 'now'})")
    return lo, hi
