"""Pure functions shaping the quality monitor's alerts into banner texts and history rows.

Alert dicts are those of ``QualityMonitor.active()`` / ``history()`` (``name``, ``severity``,
``metric``, ``op``, ``threshold``, ``value``, ``summary``, ``starts_at`` … as ISO-8601 UTC).
Banner contents are plain strings, so whatever a rule's name or summary holds shows as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .values import epoch_of, is_number

#: Bootstrap colour per alert severity.
SEVERITY_COLORS = {"critical": "danger", "warning": "warning", "info": "info"}

Slot = tuple[bool, str, str]  # (is_open, colour, text) of one banner slot


def fmt_value(v: Any) -> str:
    """A metric value or threshold: fractions below 1 as-is to 4 digits, ``–`` for none."""
    return f"{v:.4g}" if is_number(v) else "–"


def age_text(since: Any, now: float) -> str:
    """``3 s`` / ``4 min`` / ``2 h`` since an ISO time or epoch (empty when unknown)."""
    t = epoch_of(since)
    if t is None:
        return ""
    s = max(0, int(now - t))
    return f"{s} s" if s < 120 else f"{s // 60} min" if s < 7200 else f"{s // 3600} h"


def banner_text(alert: dict[str, Any], now: float) -> str:
    """``WARNING · null_rate_high — Null rate 31% … (value 0.31 > 0.05) · since … (40 s)``."""
    since = alert.get("starts_at") or alert.get("active_at")
    age = age_text(since, now)
    return (f"{str(alert.get('severity', '')).upper()} · {alert.get('name', '?')} — "
            f"{alert.get('summary', '')} (value {fmt_value(alert.get('value'))} "
            f"{alert.get('op', '')} threshold {fmt_value(alert.get('threshold'))}) · since "
            f"{since or '?'}" + (f" ({age})" if age else ""))


def banner_slots(active: Sequence[dict[str, Any]], now: float,
                 slots: int) -> tuple[list[Slot], str]:
    """Fill ``slots`` banners (critical first) and summarise any firing alerts beyond them."""
    ranked = sorted(active, key=lambda a: a.get("severity") != "critical")
    out: list[Slot] = [(True, SEVERITY_COLORS.get(a.get("severity", ""), "secondary"),
                        banner_text(a, now)) for a in ranked[:slots]]
    out += [(False, "secondary", "")] * (slots - len(out))
    extra = len(ranked) - slots
    return out, (f"… and {extra} more firing alert{'s' if extra > 1 else ''}"
                 if extra > 0 else "")


def history_rows(history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Alert-history grid rows (transitions, newest first)."""
    return [{"at": h.get("at") or "", "rule": h.get("name", ""),
             "change": f"{h.get('previous', '?')} → {h.get('state', '?')}",
             "state": h.get("state", ""), "severity": h.get("severity", ""),
             "value": h.get("value") if is_number(h.get("value")) else None,
             "threshold": h.get("threshold"), "summary": h.get("summary", "")}
            for h in history]
