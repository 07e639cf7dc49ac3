"""The dashboard layout (no I/O: everything it shows later comes from callbacks).

Every component that changes is created once here and only its props are updated afterwards
(Dash ≥ 4.2 remounts children returned anew on every tick): the alert banners are a fixed set
of slots whose ``is_open``/``color``/``children`` (plain text) change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from . import ids
from .figures.history import HISTORY_TICK
from .figures.windows import WINDOW_NOTE
from .options import REFRESH_CHOICES, DashboardOptions
from .panels import PANELS, Panel
from .tables import ERROR_COLUMNS, LATE_COLUMNS, QUARANTINE_COLUMNS, TIME_WIDTH, column
from .texts import refresh_props

#: KPI card ids and labels; ``{w}`` is the quality monitor's window in seconds (the rates and
#: records/s it computes are over that window, the same numbers the alert rules see).
KPI_IDS = (("total", "Records ingested"), ("rate", "Records/s ({w})"), ("latest", "Latest value"),
           ("mean", "Mean (buffer)"), ("invalid", "Invalid % ({w})"),
           ("duplicate", "Duplicate % ({w})"), ("late", "Late % ({w})"),
           ("errors", "Ingest errors (5 min)"), ("alerts", "Active alerts"))
#: Banner slots for firing alerts (more firing alerts are summarised in one line below them).
ALERT_SLOTS = 5
ALERT_COLUMNS = [column("at", "time (UTC)", width=TIME_WIDTH), column("rule", minWidth=160),
                 column("change", "transition", width=170), column("severity", width=110),
                 column("value", width=100, filter="agNumberColumnFilter"),
                 column("threshold", width=110, filter="agNumberColumnFilter"),
                 column("summary", flex=1, minWidth=240)]
#: Plotly's mode bar (shown on hover): only the buttons a live chart needs, so it stays narrow.
GRAPH_CONFIG = {"displaylogo": False, "displayModeBar": "hover",
                "modeBarButtonsToRemove": ["select2d", "lasso2d", "zoomIn2d", "zoomOut2d",
                                           "autoScale2d"]}


def kpi_labels(rate_window: float) -> dict[str, str]:
    """Each KPI card's label, naming the window (seconds) a stream's quality rates cover."""
    return {kpi_id: label.format(w=f"{rate_window:g} s") for kpi_id, label in KPI_IDS}


#: The KPI cards whose label names the quality window (it may differ between streams).
WINDOWED_KPIS = tuple(kpi_id for kpi_id, label in KPI_IDS if "{w}" in label)


def kpi_card(kpi_id: str, label: str) -> dbc.Col:
    """One KPI card whose value has the id ``kpi-<kpi_id>`` (its label ``kpi-<kpi_id>-label``)."""
    return dbc.Col(dbc.Card(dbc.CardBody([
        html.Div(label, id=ids.kpi_label(kpi_id), className="sd-kpi-label"),
        html.Div("–", id=ids.kpi(kpi_id), className="sd-kpi-value"),
    ]), className="sd-kpi shadow-sm h-100"), xs=6, md=4, xl=True)


def refresh_options(default: float) -> list[dict[str, Any]]:
    """Refresh picker choices (1, 2, 5, 10 s, paused) plus the configured one if different."""
    choices = sorted(set(REFRESH_CHOICES) | ({float(default)} if default else set()))
    return [{"label": f"{c:g} s", "value": c} for c in choices] + [{"label": "Paused",
                                                                    "value": 0}]


def field_options(fields: Sequence[str]) -> list[dict[str, str]]:
    """Dropdown options for field names (shown as text)."""
    return [{"label": f, "value": f} for f in fields]


def grid(grid_id: str, columns: list[dict[str, Any]], height: int = 300) -> dag.AgGrid:
    """A sortable, filterable, resizable AG Grid; rows arrive from callbacks."""
    return dag.AgGrid(
        id=grid_id, rowData=[], columnDefs=columns,
        # No type inference: a stream may put text in a numeric field; show it as it came.
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 80,
                       "cellDataType": False},
        # Field names come from the stream: dots must not be read as nested paths.
        dashGridOptions={"suppressFieldDotNotation": True, "animateRows": False,
                         "enableCellTextSelection": True},
        className="ag-theme-alpine", style={"height": f"{height}px", "width": "100%"})


def _card(title: str, body: Any, **col: Any) -> dbc.Col:
    return dbc.Col(dbc.Card([dbc.CardHeader(title, className="sd-card-title"),
                             dbc.CardBody(body, className="p-2")],
                            className="shadow-sm h-100"), **col)


def panel_card(panel: Panel, notes: dict[str, str], timers: dict[str, float]) -> dbc.Col:
    """A chart's card: its title (and controls), its note line, its graph with an empty
    figure until the first update, and — for a chart with its own callback — its store and
    its timer when that is not the live tick (``timers``: id → seconds)."""
    header: Any = panel.title
    if panel.controls is not None:
        header = html.Div([html.Span(panel.title, className="sd-card-title"), panel.controls()],
                          className="d-flex justify-content-between align-items-center "
                                    "flex-wrap gap-2")
    graph = dcc.Graph(id=panel.id, config=GRAPH_CONFIG, style={"height": f"{panel.height}px"},
                      figure={"data": [], "layout": {"height": panel.height}})
    body = [html.Div(notes.get(panel.note, ""), id=panel.note, className="sd-note px-1"),
            graph] if panel.note else graph
    title_class = {} if panel.controls else {"className": "sd-card-title"}
    card = dbc.Card([dbc.CardHeader(header, **title_class), dbc.CardBody(body, className="p-2")],
                    className="shadow-sm h-100")
    extras = ([dcc.Interval(id=panel.timer, interval=int(timers[panel.timer] * 1000))]
              if panel.timer != ids.TICK else [])
    extras += [dcc.Store(id=panel.store)] if panel.store else []  # what this browser shows
    width = {"xs": 12} if panel.width >= 12 else {"lg": panel.width}
    return dbc.Col([card, *extras] if extras else card, **width)


def chart_rows(notes: dict[str, str], timers: dict[str, float]) -> list[dbc.Row]:
    """The chart cards of :data:`~.panels.PANELS`, in order, filling rows of 12 columns."""
    rows: list[list[dbc.Col]] = [[]]
    used = 0
    for panel in PANELS:
        if used + panel.width > 12 and rows[-1]:
            rows.append([])
            used = 0
        rows[-1].append(panel_card(panel, notes, timers))
        used += panel.width
    return [dbc.Row(cols, className="g-3 mb-3") for cols in rows]


def stream_picker(streams: Sequence[str]) -> dbc.Col:
    """The stream picker (shown with several streams only: one has nothing to pick)."""
    hidden = {} if len(streams) > 1 else {"style": {"display": "none"}}
    return dbc.Col(html.Label([html.Span("Stream", className="me-2"), dcc.Dropdown(
        id=ids.STREAM_PICKER, options=field_options(streams), value=streams[0] if streams else
        None, clearable=False, searchable=len(streams) > 8, style={"minWidth": "12rem"})],
        className="d-flex align-items-center"), width="auto", **hidden)


def overview_table() -> html.Div:
    """The streams overview: one row per stream, filled by the live tick."""
    head = html.Thead(html.Tr([html.Th(t) for t in (
        "Stream", "Source", "Records/s", "Last update (UTC)", "Health", "Active alerts")]))
    return html.Div(html.Table([head, html.Tbody([], id=ids.OVERVIEW)],
                               className="table table-sm sd-overview mb-0"),
                    className="table-responsive mb-2")


def _header(title: str, source_label: str, opts: DashboardOptions,
            streams: Sequence[str] = ()) -> html.Header:
    picker = dbc.RadioItems(id=ids.REFRESH_PICKER, options=refresh_options(opts.refresh),
                            value=opts.refresh, inline=True, className="btn-group",
                            inputClassName="btn-check",
                            labelClassName="btn btn-outline-secondary btn-sm",
                            labelCheckedClassName="active")
    return html.Header(dbc.Row([
        dbc.Col(html.H1(title, className="h3 mb-0"), width="auto"),
        *([stream_picker(streams)] if streams else []),
        dbc.Col(html.Span(source_label, id=ids.SOURCE_LABEL, className="text-muted"),
                width="auto"),
        # The badge's title (hover text) names the firing alerts and other reasons.
        dbc.Col(dbc.Badge("…", id=ids.STATUS_BADGE, color="secondary", className="sd-status",
                          title=""), width="auto"),
        dbc.Col(html.Span("", id=ids.POLL_INTERVAL, className="text-muted small"),
                width="auto"),
        dbc.Col(html.Span(["Last update: ", html.Span("never", id=ids.LAST_UPDATE,
                                                      className="sd-updated")]),
                className="ms-auto", width="auto"),
        dbc.Col(html.Div([html.Span("Refresh"), picker],
                         className="d-flex align-items-center gap-2"), width="auto"),
    ], align="center", className="py-3 g-3"))


def _controls(opts: DashboardOptions) -> dbc.Row:
    def dropdown(dd_id: str, label: str, value: str, placeholder: str) -> dbc.Col:
        return dbc.Col(html.Label([label, dcc.Dropdown(
            id=dd_id, options=field_options([value] if value else []), value=value or None,
            clearable=dd_id == ids.KEY_FIELD, placeholder=placeholder)], className="w-100"),
            xs=12, md=4, lg=3)
    return dbc.Row([dropdown(ids.VALUE_FIELD, "Value field", opts.value_field, "numeric field"),
                    dropdown(ids.KEY_FIELD, "Key field (one line per key)", opts.key_field,
                             "no key: one line")], className="g-3 mb-3")


def build_layout(title: str, source_label: str, opts: DashboardOptions,
                 rate_window: float = 60.0, history_refresh: float = 30.0,
                 window_note: str = "", streams: Sequence[str] = ()) -> dbc.Container:
    """The whole page: header, streams overview, alerts, KPIs, field pickers, charts, tables,
    timer and stores.

    ``rate_window`` (seconds) is the window the quality rates are computed over (for labels);
    ``history_refresh`` (seconds) how often the pipeline-history chart re-reads the store;
    ``window_note`` says on the window card why it trails the live chart; ``streams`` are the
    streams' names, the default first (several: a picker and the URL choose one).
    """
    interval, max_intervals = refresh_props(opts.refresh)
    # With several streams, ?stream= in the URL picks one (a link opens it).
    location = [dcc.Location(id=ids.LOCATION, refresh=False)] if len(streams) > 1 else []
    return dbc.Container([
        *location,
        _header(title, source_label, opts, streams),
        overview_table(),
        dbc.Alert("", id=ids.STALE_WARNING, color="warning", is_open=False,
                  className="sd-stale"),
        html.Div([dbc.Alert("", id=ids.alert_slot(i), is_open=False, color="danger",
                            className="sd-alert mb-2") for i in range(ALERT_SLOTS)]
                 + [html.Div("", id=ids.ALERT_MORE, className="text-danger small mb-2")],
                 id=ids.ALERT_BANNERS),
        dbc.Row([kpi_card(i, label) for i, label in kpi_labels(rate_window).items()],
                className="g-3 mb-3"),
        _controls(opts),
        *chart_rows({WINDOW_NOTE: window_note}, {HISTORY_TICK: history_refresh}),
        dbc.Row([_card("Alert history", grid(ids.GRID_ALERTS, ALERT_COLUMNS, 220), xs=12)],
                className="g-3 mb-3"),
        dbc.Row([_card("Latest records", grid(ids.GRID_LATEST, [], 320), xs=12)],
                className="g-3 mb-3"),
        dbc.Row([_card("Late records", grid(ids.GRID_LATE, LATE_COLUMNS, 260), xs=12)],
                className="g-3 mb-3"),
        # Full width: a quarantined record needs the room to be read.
        dbc.Row([_card("Quarantined records", grid(ids.GRID_QUARANTINE, QUARANTINE_COLUMNS),
                       xs=12),
                 _card("Ingestion errors", grid(ids.GRID_ERRORS, ERROR_COLUMNS), xs=12)],
                className="g-3 mb-4"),
        dcc.Interval(id=ids.TICK, interval=interval, max_intervals=max_intervals),
        # What this browser holds (versions), so ticks send only news.
        dcc.Store(id=ids.CLIENT_STATE),
        dcc.Store(id=ids.STREAM),  # the stream shown (None: the default)
    ], fluid=True, className="pb-4")
