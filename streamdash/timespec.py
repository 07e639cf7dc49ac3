"""Parse the time bounds of history queries: ISO-8601 instants or relative spans like ``15m``.

Shared by the HTTP query API and the ``streamdash metrics`` command so both accept the same
forms. Every parse error is a ``ValueError`` whose message names the parameter and the value.
Spans are read by :mod:`streamdash.durations` (the settings' reader too); a query's span needs
a unit and is never negative.
"""

from __future__ import annotations

from datetime import datetime, timezone

from .durations import parse_text

#: The instants a query may name: what UTC ISO-8601 (and so every answer's ``ts``) can show,
#: 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z. Anything outside (``since=99999999999d``,
#: ``until=9999-12-31T23:59:59-12:00``) is a bad parameter, not a crash while formatting.
EARLIEST = 0.0
LATEST = 253402300799.0


def _span(text: str) -> float | None:
    """Seconds in a relative span (a number and a unit, any case), None when it is not one."""
    text = text.strip().lower()
    if not text[-1:].isalpha():  # a bare number is not a span here: 15 could mean anything
        return None
    seconds = parse_text(text)
    return seconds if seconds is not None and seconds >= 0 else None


def parse_duration(text: str, param: str = "duration") -> float:
    """Seconds in a span like ``30s``, ``15m``, ``2h``, ``7d`` or ``1w`` (also ``250ms``)."""
    seconds = _span(text or "")
    if seconds is None:
        raise ValueError(f"{param}: expected a span like 30s, 15m, 2h, 7d or 1w, got {text!r}")
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
    if _span(text) is not None:
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
