"""Thin callbacks: the refresh picker, the time series, and one callback for the rest.

A browser tick is two requests: the time series (only the points after the browser's sequence
number, via ``extendData``) and everything else (``views.tick``: outputs that did not change are
``no_update``; a tick with no change answers 204). Both disable the interval while they run
(``running=``), so a slow tick delays the next one instead of stacking requests (dash issues
1613, 2198); what they read comes from snapshots the ``LiveView`` computes once per data
version for all viewers.

The pipeline-history chart has its own slower timer (``history-tick``, about the snapshot
interval) and range picker: it reads the persisted metrics store, never on the 1 s tick.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from . import views
from .live import LiveView
from .texts import refresh_props

TICK = Input("tick", "n_intervals")
#: While a tick's callback runs the interval is off: no second request piles up behind it.
HOLD_TICK = [(Output("tick", "disabled"), True, False)]


def register_callbacks(app: Dash, live: LiveView) -> None:
    """Wire every dashboard component to ``live``."""
    default_field = live.options.value_field
    outputs = [Output(*name.rsplit(".", 1)) for name in views.TICK_OUTPUTS]

    @app.callback(Output("tick", "interval"), Output("tick", "max_intervals"),
                  Input("refresh-picker", "value"))
    def set_refresh(value: float | None) -> tuple[int, int]:
        return refresh_props(value)

    @app.callback(Output("history-tick", "disabled"), Input("refresh-picker", "value"))
    def pause_history(value: float | None) -> bool:
        return not value  # "Paused" stops the history chart too

    @app.callback(Output("chart-history", "figure"), Output("history-state", "data"),
                  Input("history-tick", "n_intervals"), Input("history-range", "value"),
                  State("history-state", "data"))
    def refresh_history(_n: Any, range_label: str | None, seen: str | None) -> tuple:
        version, figure = live.history(range_label)  # cached per range and refresh period
        if version == seen:
            raise PreventUpdate  # this browser already shows it
        return figure, version

    @app.callback(Output("chart-series", "figure"), Output("chart-series", "extendData"),
                  Output("series-state", "data"), TICK, Input("value-field", "value"),
                  Input("key-field", "value"), State("series-state", "data"),
                  running=HOLD_TICK)
    def refresh_series(_n: Any, value_field: str | None, key_field: str | None,
                       state: dict | None) -> tuple:
        update = live.series(state, live.known_field(value_field) or default_field,
                             live.known_field(key_field) or "")
        if update is None:
            raise PreventUpdate
        return update.get("figure", no_update), update.get("extend", no_update), update["state"]

    @app.callback(*outputs, Output("client-state", "data"), TICK,
                  Input("value-field", "value"), State("refresh-picker", "value"),
                  State("client-state", "data"), running=HOLD_TICK)
    def refresh_rest(_n: Any, value_field: str | None, refresh: float | None,
                     state: dict | None) -> tuple:
        out, new_state = views.tick(live, state, live.known_field(value_field) or default_field,
                                    refresh)
        if not out and new_state == state:
            raise PreventUpdate
        return (*(out.get(name, no_update) for name in views.TICK_OUTPUTS), new_state)
