"""Thin callbacks: read a shared snapshot from the ``LiveView``, call pure functions, return.

Every callback is driven by the ``tick`` interval. The time-series callback disables the
interval while it runs (``running=``), so a slow tick delays the next one instead of stacking
requests (dash issues 1613, 2198); the other callbacks only read cached snapshots and return
``no_update`` for whatever the browser already has.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from . import alerts, figures
from .layout import ALERT_SLOTS, KPI_IDS, field_options
from .live import LiveView

TICK = Input("tick", "n_intervals")


def register_callbacks(app: Dash, live: LiveView) -> None:
    """Wire every dashboard component to ``live``."""
    default_field = live.options.value_field

    @app.callback(Output("tick", "interval"), Output("tick", "max_intervals"),
                  Input("refresh-picker", "value"))
    def set_refresh(value: float | None) -> tuple[int, int]:
        return figures.refresh_props(value)

    @app.callback(Output("status-badge", "children"), Output("status-badge", "color"),
                  Output("last-update", "children"), Output("stale-warning", "children"),
                  Output("stale-warning", "is_open"),
                  *[Output(f"kpi-{kpi_id}", "children") for kpi_id, _ in KPI_IDS],
                  TICK, Input("value-field", "value"), State("refresh-picker", "value"))
    def refresh_header(_n: Any, value_field: str | None, refresh: float | None) -> tuple:
        s = live.summary(value_field or default_field, refresh)
        k = figures.kpi_texts(s)
        return (*figures.status_badge(s["status"]), s["updated"], s["stale"] or "",
                bool(s["stale"]), *(k[kpi_id] for kpi_id, _ in KPI_IDS))

    @app.callback(Output("chart-series", "figure"), Output("chart-series", "extendData"),
                  Output("series-state", "data"), TICK, Input("value-field", "value"),
                  Input("key-field", "value"), State("series-state", "data"),
                  running=[(Output("tick", "disabled"), True, False)])
    def refresh_series(_n: Any, value_field: str | None, key_field: str | None,
                       state: dict | None) -> tuple:
        update = live.series(state, value_field or default_field, key_field or "")
        if update is None:
            raise PreventUpdate
        return update.get("figure", no_update), update.get("extend", no_update), update["state"]

    @app.callback(Output("chart-windows", "figure"), Output("chart-histogram", "figure"),
                  Output("chart-quality", "figure"), Output("chart-quality", "extendData"),
                  Output("panel-state", "data"), TICK, Input("value-field", "value"),
                  State("panel-state", "data"))
    def refresh_panels(_n: Any, value_field: str | None, state: dict | None) -> tuple:
        state, field = state or {}, value_field or default_field
        wkey, windows = live.windows(field)
        hkey, hist = live.histogram(field)
        quality = live.quality(state.get("quality")) or {}
        new = {"windows": [live.epoch, *wkey], "hist": [live.epoch, *hkey],
               "quality": quality.get("state", state.get("quality"))}
        if new == state:
            raise PreventUpdate
        return (windows if new["windows"] != state.get("windows") else no_update,
                hist if new["hist"] != state.get("hist") else no_update,
                quality.get("figure", no_update), quality.get("extend", no_update), new)

    @app.callback(Output("grid-latest", "rowData"), Output("grid-latest", "columnDefs"),
                  Output("grid-quarantine", "rowData"), Output("grid-errors", "rowData"),
                  Output("value-field", "options"), Output("key-field", "options"),
                  Output("table-state", "data"), TICK, State("table-state", "data"))
    def refresh_tables(_n: Any, state: dict | None) -> tuple:
        state, versions = state or {}, {**live.table_versions(), "epoch": live.epoch}
        cols, rows = live.latest_records()
        new = {**versions, "cols": [c["field"] for c in cols], "fields": list(live.field_names())}
        if new == state:
            raise PreventUpdate
        same = {k: new[k] == state.get(k) and new["epoch"] == state.get("epoch") for k in new}
        return (no_update if same["latest"] else rows, no_update if same["cols"] else cols,
                no_update if same["quarantine"] else live.quarantine_rows(),
                no_update if same["errors"] else live.error_rows(),
                *((no_update,) * 2 if same["fields"] else map(field_options, new["fields"])), new)

    slot_outputs = [Output(f"alert-slot-{i}", prop) for i in range(ALERT_SLOTS)
                    for prop in ("is_open", "color", "children")]

    @app.callback(*slot_outputs, Output("alert-more", "children"), Output("grid-alerts", "rowData"),
                  Output("alert-state", "data"), TICK, State("alert-state", "data"))
    def refresh_alerts(_n: Any, state: dict | None) -> tuple:
        active, history = live.alerts(live.options.table_rows)
        slots, more = alerts.banner_slots(active, live.runtime.clock(), ALERT_SLOTS)
        state = state or {}
        new = {"slots": [list(s) for s in slots], "more": more,
               "history": [live.epoch, len(history), history[0]["at"] if history else None]}
        if new == state:
            raise PreventUpdate
        rows = (no_update if new["history"] == state.get("history")
                else alerts.history_rows(history))
        return (*(v for slot in slots for v in slot), more, rows, new)
