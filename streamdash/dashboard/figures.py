"""Pure functions that turn runtime snapshots into what the dashboard shows."""

from __future__ import annotations

import math
from typing import Any, Iterable

from ..models import utc_iso


def kpis(records: Iterable[dict[str, Any]], counts: dict[str, int], value_field: str,
         rate: float | None, last_stored_at: float | None, now: float) -> dict[str, str]:
    """Formatted KPI texts: total records, records/s, latest and mean value, last update."""
    values = [v for r in records if _is_number(v := r.get(value_field))]
    latest = values[-1] if values else None
    mean = sum(values) / len(values) if values else None
    return {
        "total": f"{counts.get('accepted', 0):,}",
        "rate": "–" if rate is None else f"{rate:,.1f}",
        "latest": _fmt(latest),
        "mean": _fmt(mean),
        "updated": last_update_text(last_stored_at, now),
    }


def last_update_text(last: float | None, now: float) -> str:
    """``2026-01-02T03:04:05.678Z (3 s ago)`` or ``never``."""
    if last is None:
        return "never"
    return f"{utc_iso(last)} ({max(0, int(now - last))} s ago)"


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:,.2f}"
