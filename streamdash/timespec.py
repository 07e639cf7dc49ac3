"""Parse the time bounds of history queries: ISO-8601 instants or relative spans like ``15m``.

Shared by the HTTP query API and the ``streamdash metrics`` command so both accept the same
forms. Every parse error is a ``ValueError`` whose message names the parameter and the value.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_duration(text: str, param: str = "duration") -> float:
    """Seconds in a span like ``30s``, ``15m``, ``2h``, ``7d`` or ``1w``."""
    match = _RELATIVE.match(text or "")
    if not match:
        raise ValueError(f"{param}: expected a span like 30s, 15m, 2h, 7d or 1w, got {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


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
        return now - parse_duration(text, param)
    try:
        dt = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"{param}: expected an ISO-8601 time like 2026-01-02T03:04:05Z, a span "
                         f"like 15m, or 'now', got {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def parse_range(since: str | None, until: str | None, now: float,
                default_since: str = "1h") -> tuple[float, float]:
    """``(since, until)`` epoch seconds; ``until`` defaults to now; ``since`` must not follow it."""
    lo = parse_time(since if since is not None else default_since, now, "since")
    hi = parse_time(until, now, "until") if until is not None else now
    if lo > hi:
        raise ValueError(f"since ({since}) is after until ({until or 'now'})")
    return lo, hi
