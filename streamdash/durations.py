"""The one duration reader: seconds from ``30``, ``"30s"``, ``"5m"``, ``"250ms"``, ``"1w"``.

Settings (:data:`streamdash.params.Duration`), alert rules and the time spans of history queries
(:mod:`streamdash.timespec`) all read durations here, so they accept the same units. No pydantic
here: the query API and the CLI's ``metrics`` command use it without paying for that import.
"""

from __future__ import annotations

import math
import re
from typing import Any

#: Seconds per unit; a number without a unit is seconds.
UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_FORM = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
EXPECTED = "expected a duration (seconds or e.g. '30s', '5m')"


def parse_text(text: str) -> float | None:
    """Seconds in ``text`` (a number with an optional unit), ``None`` when it is not one.

    The result may be negative or infinite (a 400-digit number): callers decide what they allow.
    """
    match = _FORM.match(text)
    if not match:
        return None
    return float(match.group(1)) * UNITS.get(match.group(2) or "s", 1.0)


def seconds(value: Any) -> float:
    """Seconds from a number or a text such as ``"30s"``, ``"5m"``, ``"4h"``, ``"250ms"``.

    Raises ``ValueError`` (saying which forms are accepted) for anything else, and for an
    infinite or NaN value.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{EXPECTED}, got {value!r}")
    out = float(value) if isinstance(value, (int, float)) else parse_text(str(value))
    if out is None:
        raise ValueError(f"{EXPECTED}, got {value!r}")
    if not math.isfinite(out):
        raise ValueError(f"expected a finite duration, got {value!r}")
    return out


def bounded(value: Any, *, allow_zero: bool = True) -> float:
    """:func:`seconds`, refusing a negative (and, unless ``allow_zero``, a zero) duration."""
    out = seconds(value)
    if out < 0 or (out == 0 and not allow_zero):
        raise ValueError(f"must be a {'non-negative' if allow_zero else 'positive'} duration, "
                         f"got {value!r}")
    return out
