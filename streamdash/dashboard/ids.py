"""Every component id of the page outside the charts, named once.

Layout, views, callbacks and guards use these names, never the strings themselves. A chart's
own ids (its graph, note, store, timer, controls) are named in its module in ``figures/``,
beside its ``Panel``. The values are the page's public contract (browser tests, users' CSS,
the benchmark's replayed requests address components by them): renaming a constant is free,
changing a value is not.
"""

from __future__ import annotations

# -- timers and what each browser keeps ----------------------------------------------------------
#: The live tick (every refresh period).
TICK = "tick"
#: The store of the versions the live tick's parts (header, charts, tables) last sent.
CLIENT_STATE = "client-state"

#: The stream this browser shows (a name; ``None``: the default stream).
STREAM = "stream"
#: The page's URL (``?stream=NAME`` opens that stream).
LOCATION = "url"

# -- controls --------------------------------------------------------------------------------------
STREAM_PICKER = "stream-picker"
REFRESH_PICKER = "refresh-picker"
VALUE_FIELD = "value-field"
KEY_FIELD = "key-field"

# -- header and banners ----------------------------------------------------------------------------
SOURCE_LABEL = "source-label"
STATUS_BADGE = "status-badge"
POLL_INTERVAL = "poll-interval"
LAST_UPDATE = "last-update"
STALE_WARNING = "stale-warning"
ALERT_BANNERS = "alert-banners"
ALERT_MORE = "alert-more"
#: The body of the streams overview table (one row per stream).
OVERVIEW = "stream-overview"

# -- tables ----------------------------------------------------------------------------------------
GRID_ALERTS = "grid-alerts"
GRID_LATEST = "grid-latest"
GRID_LATE = "grid-late"
GRID_QUARANTINE = "grid-quarantine"
GRID_ERRORS = "grid-errors"


def kpi(name: str) -> str:
    """The id of the KPI card value ``name`` (``kpi-total`` …)."""
    return f"kpi-{name}"


def kpi_label(name: str) -> str:
    """The id of the label of KPI card ``name`` (``kpi-rate-label`` …)."""
    return f"kpi-{name}-label"


def alert_slot(index: int) -> str:
    """The id of banner slot ``index`` (``alert-slot-0`` …)."""
    return f"alert-slot-{index}"


def prop(component: str, name: str) -> str:
    """``component.name``: how Dash names one property of one component in a request."""
    return f"{component}.{name}"
