"""What the page shows while the state store does not answer: that, and no stale figures.

A web process reading Redis (``state.backend: redis``) has nothing of its own to show when
Redis is away. Instead of leaving the last figures on screen as if they were current, a tick
then sends :func:`tick_outputs`: the status badge ``DOWN`` with the reason, a red banner
"State store unreachable", every chart replaced by a note saying so, the tables and alert
banners emptied. The browser's state is reset, so everything is sent afresh once the store
answers again. Pure: the message in, outputs out.
"""

from __future__ import annotations

from typing import Any

from . import ids
from .figures.common import chart_layout, empty
from .ids import prop
from .layout import ALERT_SLOTS, KPI_IDS
from .panels import TICK_PANELS

#: What the banner says before the reason.
BANNER = "State store unreachable: nothing shown here is current until it answers again"


def figure(title: str, reason: str) -> dict[str, Any]:
    """An empty chart titled ``title`` saying the state store is unreachable, and why."""
    layout = chart_layout(title, "unavailable")
    empty(layout, f"State store unreachable — {reason}")
    return {"data": [], "layout": layout}


def tick_outputs(reason: str) -> dict[str, Any]:
    """Every output of the live tick (``views.TICK_OUTPUTS``) for an unreachable store."""
    out: dict[str, Any] = {
        prop(ids.STATUS_BADGE, "children"): "DOWN", prop(ids.STATUS_BADGE, "color"): "danger",
        prop(ids.STATUS_BADGE, "title"): reason, prop(ids.POLL_INTERVAL, "children"): "",
        prop(ids.LAST_UPDATE, "children"): "unknown (state store unreachable)",
        prop(ids.STALE_WARNING, "children"): f"{BANNER} ({reason}).",
        prop(ids.STALE_WARNING, "is_open"): True, prop(ids.STALE_WARNING, "color"): "danger",
        **{prop(ids.kpi(kpi_id), "children"): "–" for kpi_id, _ in KPI_IDS},
        **{prop(panel.id, "figure"): figure(panel.title, reason) for panel in TICK_PANELS},
        **{prop(grid, "rowData"): [] for grid in (ids.GRID_LATEST, ids.GRID_QUARANTINE,
                                                  ids.GRID_ERRORS, ids.GRID_ALERTS,
                                                  ids.GRID_LATE)},
        prop(ids.ALERT_MORE, "children"): "",
    }
    for i in range(ALERT_SLOTS):
        out[prop(ids.alert_slot(i), "is_open")] = False
    return out
