"""What the header and the KPI cards say (pure: plain values in, texts out)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..models import utc_iso
from .values import epoch_of, fmt_number, fmt_pct

#: Colours of the status badge (Bootstrap contextual colours).
STATUS_COLORS = {"ok": "success", "degraded": "warning", "down": "danger"}
#: How many refresh intervals without new records make the data stale.
STALE_AFTER_INTERVALS = 3


def last_update_text(last: float | None, now: float) -> str:
    """``2026-01-02T03:04:05.678Z (3 s ago)`` or ``never``."""
    if last is None:
        return "never"
    return f"{utc_iso(last)} ({max(0, int(now - last))} s ago)"


def status_badge(status: str) -> tuple[str, str]:
    """Badge text and Bootstrap colour for a runtime health status."""
    return status.upper(), STATUS_COLORS.get(status, "secondary")


def freshness_message(last_fetch: float | None, last_new: float | None, since: float | None,
                      now: float, interval: float) -> tuple[str, str] | None:
    """The banner on how fresh the data is, as (text, Bootstrap colour), or ``None`` if fresh.

    ``last_fetch`` is the last successful fetch, ``last_new`` when new records last arrived,
    ``since`` when the runtime started, ``interval`` the effective interval. Stale (warning)
    means no successful fetch for more than 3 intervals — the same limit as the
    ``source_down`` alert. A source that answers without new records (``304 Not Modified``, a
    snapshot feed with nothing new) is up: after 3 intervals the banner says "no new data"
    (info), never "stale".
    """
    limit = STALE_AFTER_INTERVALS * interval
    of = f"more than {STALE_AFTER_INTERVALS} intervals of {interval:g} s"
    fetch_ref = last_fetch if last_fetch is not None else since
    if fetch_ref is not None and now - fetch_ref > limit:
        if last_fetch is None:
            return (f"Data is stale: no successful fetch in the {int(now - fetch_ref)} s since "
                    f"the start ({of}).", "warning")
        return (f"Data is stale: no successful fetch for {int(now - fetch_ref)} s ({of}).",
                "warning")
    new_ref = last_new if last_new is not None else since
    if new_ref is None or now - new_ref <= limit:
        return None
    answers = "" if last_fetch is None else \
        f"; the source answers (last successful fetch {max(0, int(now - last_fetch))} s ago)"
    if last_new is None:
        return (f"No new data since the start: no records received in {int(now - new_ref)} s"
                f"{answers}.", "info")
    return (f"No new data since {utc_iso(last_new)}: no new records for {int(now - new_ref)} s"
            f"{answers}.", "info")


#: How the header explains an interval that is not the configured one (``Cadence.reason``).
INTERVAL_REASONS = {"min_interval": "the source's minimum",
                    "server": "as the server asks: Cache-Control"}


def interval_text(interval: float, reason: str = "") -> str:
    """The header's ``polling every 60 s`` (with why, when it is not the configured value)."""
    why = INTERVAL_REASONS.get(reason)
    return f"polling every {interval:g} s" + (f" ({why})" if why else "")


def refresh_props(value: float | None) -> tuple[int, int]:
    """``dcc.Interval`` (interval ms, max_intervals) for a refresh choice; 0/None pauses."""
    if not value:
        return 3_600_000, 0
    return int(max(float(value), 0.1) * 1000), -1


# -- KPI cards -------------------------------------------------------------------------------------
def kpi_texts(summary: dict[str, Any]) -> dict[str, str]:
    """Formatted KPI card texts from a view summary (see ``LiveView.summary``)."""
    alerts = summary.get("active_alerts")
    return {
        "total": f"{summary['records_in']:,}",
        "rate": "–" if summary.get("rate") is None else f"{summary['rate']:,.1f}",
        "latest": fmt_number(summary.get("latest")),
        "mean": fmt_number(summary.get("mean")),
        "invalid": fmt_pct(summary.get("invalid")),
        "duplicate": fmt_pct(summary.get("duplicate")),
        "late": fmt_pct(summary.get("late")),
        "errors": f"{summary.get('errors_5min', 0):,}",
        "alerts": "–" if alerts is None else f"{alerts:,}",
    }


def count_since(items: Iterable[dict[str, Any]], since: float, field: str = "at") -> int:
    """How many items have a time (epoch or ISO text in ``field``) at or after ``since``."""
    return sum(1 for i in items if (t := epoch_of(i.get(field))) is not None and t >= since)
