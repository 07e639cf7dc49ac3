"""Every component id of the dashboard page, named once.

Layout, views, callbacks and guards use these names, never the strings themselves. The values
are the page's public contract (browser tests, users' CSS, the benchmark's replayed requests
address components by them): renaming a constant is free, changing a value is not.
"""

from __future__ import annotations

# -- timers and what each browser keeps ----------------------------------------------------------
#: The live tick (every refresh period) and the pipeline-history chart's slower timer.
TICK = "tick"
HISTORY_TICK = "history-tick"
#: Stores: the series' sequence number, the rest of the tick's versions, the history version.
SERIES_STATE = "series-state"
CLIENT_STATE = "client-state"
HISTORY_STATE = "history-state"

# -- controls --------------------------------------------------------------------------------------
REFRESH_PICKER = "refresh-picker"
VALUE_FIELD = "value-field"
KEY_FIELD = "key-field"
HISTORY_RANGE = "history-range"

# -- header and banners ----------------------------------------------------------------------------
SOURCE_LABEL = "source-label"
STATUS_BADGE = "status-badge"
POLL_INTERVAL = "poll-interval"
LAST_UPDATE = "last-update"
STALE_WARNING = "stale-warning"
ALERT_BANNERS = "alert-banners"
ALERT_MORE = "alert-more"

# -- charts ----------------------------------------------------------------------------------------
CHART_SERIES = "chart-series"
CHART_HISTOGRAM = "chart-histogram"
CHART_WINDOWS = "chart-windows"
CHART_QUALITY = "chart-quality"
CHART_HISTORY = "chart-history"
#: The line above the window chart saying why it trails the live values.
WINDOW_NOTE = "window-note"

# -- tables ----------------------------------------------------------------------------------------
GRID_ALERTS = "grid-alerts"
GRID_LATEST = "grid-latest"
GRID_LATE = "grid-late"
GRID_QUARANTINE = "grid-quarantine"
GRID_ERRORS = "grid-errors"


def kpi(name: str) -> str:
    """The id of the KPI card value ``name`` (``kpi-total`` …)."""
    return f"kpi-{name}"


def alert_slot(index: int) -> str:
    """The id of banner slot ``index`` (``alert-slot-0`` …)."""
    return f"alert-slot-{index}"


def prop(component: str, name: str) -> str:
    """``component.name``: how Dash names one property of one component in a request."""
    return f"{component}.{name}"
