"""Thin callbacks: the refresh picker, one per chart with its own request, one for the rest.

A browser tick is two requests: the time series (only the points after the browser's sequence
number, via ``extendData``) and everything else (``views.tick``: outputs that did not change are
``no_update``; a tick with no change answers 204). Both disable the interval while they run
(``running=``), so a slow tick delays the next one instead of stacking requests (dash issues
1613, 2198); what they read comes from snapshots the ``LiveView`` computes once per data
version for all viewers.

The pipeline-history chart has its own slower timer (``history-tick``, about the snapshot
interval) and range picker: it reads the persisted metrics store, never on the 1 s tick.
Which chart has its own callback, on which timer and inputs, is declared by its ``Panel``
(``panels.PANELS``); the refresh picker's "Paused" stops every such timer.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from . import ids, views
from .direct import DirectCallbacks
from .figures.windows import WINDOW_NOTE
from .layout import WINDOWED_KPIS, kpi_labels
from .live import LiveView, stream_window_note
from .panels import PANELS, Panel, read_inputs
from .streams import StreamViews, stream_from_search
from .texts import refresh_props

TICK = Input(ids.TICK, "n_intervals")
#: While a tick's callback runs the interval is off: no second request piles up behind it.
HOLD_TICK = [(Output(ids.TICK, "disabled"), True, False)]


def outputs(names: tuple[str, ...]) -> list[Output]:
    """Dash outputs for ``component.prop`` names."""
    return [Output(*name.rsplit(".", 1)) for name in names]


#: Which stream a browser shows: every callback that reads one sends it.
STREAM = State(ids.STREAM, "data")


def register_callbacks(app: Dash, streams: StreamViews) -> DirectCallbacks:
    """Wire every dashboard component to the live view of the stream each browser shows;
    returns the callbacks to answer without Dash's dispatch (``direct.py``): the live tick's
    and the charts' own, which every browser sends every refresh period."""
    direct = DirectCallbacks()

    @app.callback(Output(ids.TICK, "interval"), Output(ids.TICK, "max_intervals"),
                  Input(ids.REFRESH_PICKER, "value"))
    def set_refresh(value: float | None) -> tuple[int, int]:
        return refresh_props(value)

    if len(streams.names) > 1:
        register_stream_choice(app, streams)
    for timer in dict.fromkeys(p.timer for p in PANELS if p.timer != ids.TICK):
        register_pause(app, timer)
    for panel in PANELS:
        if panel.store:
            register_panel(app, streams, panel, direct)

    @direct.callback(app, *outputs(views.TICK_OUTPUTS), Output(ids.CLIENT_STATE, "data"),
                     TICK, *(Input(c, "value") for c in views.TICK_INPUTS),
                     State(ids.REFRESH_PICKER, "value"), State(ids.CLIENT_STATE, "data"),
                     STREAM, running=HOLD_TICK)
    def refresh_rest(_n: Any, *values: Any) -> tuple:
        *chosen, refresh, state, stream = values
        live = chosen_view(streams, stream)
        inputs = read_inputs(live, dict(zip(views.TICK_INPUTS, chosen, strict=True)))
        out, new_state = views.tick(live, state, inputs, refresh, streams,
                                    stream or streams.names[0])
        if not out and new_state == state:
            raise PreventUpdate
        return (*(out.get(name, no_update) for name in views.TICK_OUTPUTS), new_state)

    return direct


def chosen_view(streams: StreamViews, name: Any) -> LiveView:
    """The view of the stream a browser sent; nothing to do for a name no stream has (the
    request guard refuses those first)."""
    live = streams.pick(name)
    if live is None:
        raise PreventUpdate
    return live


def register_stream_choice(app: Dash, streams: StreamViews) -> None:
    """The URL's ``?stream=`` and the stream picker, kept in step (one callback: Dash allows
    a component to be both input and output only within one), set the stream shown, its
    header label, its default value and key fields, its window card's note and the KPI labels
    naming its quality window."""
    @app.callback(Output(ids.LOCATION, "search"), Output(ids.STREAM_PICKER, "value"),
                  Output(ids.STREAM, "data"), Output(ids.SOURCE_LABEL, "children"),
                  Output(ids.VALUE_FIELD, "value"), Output(ids.KEY_FIELD, "value"),
                  Output(WINDOW_NOTE, "children"),
                  *(Output(ids.kpi_label(k), "children") for k in WINDOWED_KPIS),
                  Input(ids.LOCATION, "search"), Input(ids.STREAM_PICKER, "value"),
                  State(ids.STREAM, "data"))
    def choose_stream(search: Any, picked: Any, shown: Any) -> tuple:
        from_picker = ctx.triggered_id == ids.STREAM_PICKER and picked in streams.names
        name = picked if from_picker else \
            stream_from_search(search, streams.names) or streams.names[0]
        if name == (shown or streams.names[0]):
            raise PreventUpdate  # the URL and the picker already agree with the page
        live = streams.views[name]
        opts, info = live.options, live.state.info()
        labels = kpi_labels(info.quality_window)
        return (f"?stream={name}" if from_picker else no_update, name, name,
                streams.label(name), opts.value_field, opts.key_field or None,
                stream_window_note(info.window), *(labels[k] for k in WINDOWED_KPIS))


def register_pause(app: Dash, timer: str) -> None:
    """The refresh picker's "Paused" stops a chart's own ``timer`` too."""
    @app.callback(Output(timer, "disabled"), Input(ids.REFRESH_PICKER, "value"))
    def pause_timer(value: float | None) -> bool:
        return not value


def register_panel(app: Dash, streams: StreamViews, panel: Panel,
                   direct: DirectCallbacks) -> None:
    """The callback of a chart with its own request: its timer and controls in, its figure (or
    ``extendData``) and its store out; nothing new answers 204."""
    @direct.callback(app, *outputs(panel.outputs), Output(panel.store, "data"),
                     Input(panel.timer, "n_intervals"),
                     *(Input(c, "value") for c in panel.inputs), State(panel.store, "data"),
                     STREAM, running=HOLD_TICK if panel.timer == ids.TICK else None)
    def refresh_panel(_n: Any, *values: Any) -> tuple:
        *chosen, state, stream = values
        live = chosen_view(streams, stream)
        inputs = read_inputs(live, dict(zip(panel.inputs, chosen, strict=True)))
        update = panel.snapshot(live, state, inputs, panel.figure)
        if update is None:
            raise PreventUpdate  # this browser already shows it
        sent = panel.sent(update)
        return (*(sent.get(name, no_update) for name in panel.outputs), update["state"])
