"""Plain-value helpers shared by the figures, tables and alerts: numbers, times, Plotly text.

Texts that came from the stream (keys, field names) go through :func:`plot_text` before Plotly
sees them, because Plotly interprets a few HTML-like tags in trace names and titles.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from ..models import utc_iso


def is_number(v: Any) -> bool:
    """True for finite ints and floats (not bools, not NaN/inf)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def fmt_number(v: float | None, digits: int = 2) -> str:
    """``1,234.57`` or ``–`` for no value."""
    return "–" if v is None else f"{v:,.{digits}f}"


def fmt_pct(v: float | None) -> str:
    """A fraction as a percentage (``0.0123`` → ``1.23 %``) or ``–``."""
    return "–" if v is None else f"{100 * v:.2f} %"


def plot_text(text: Any) -> str:
    """Text safe for Plotly labels: its HTML-like tags are escaped so they show literally."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def epoch_of(value: Any) -> float | None:
    """Epoch seconds from epoch numbers or ISO-8601 text (``Z`` or offset); else ``None``."""
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return dt.timestamp() if dt.tzinfo else None
    return None


def wall_time(value: Any) -> datetime | None:
    """The date and time an ISO-8601 text shows, its offset ignored as Plotly ignores it
    (``…T10:00:00+01:00`` is drawn at 10:00), or ``None`` for anything else."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


def iso_of(value: Any) -> str | None:
    """An ISO-8601 UTC text for an epoch number; ISO text passes through unchanged."""
    if is_number(value):
        return utc_iso(float(value))
    return value if isinstance(value, str) else None

