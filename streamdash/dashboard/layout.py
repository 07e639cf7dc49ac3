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

from .options import DEFAULT_HISTORY_RANGE, HISTORY_RANGES, REFRESH_CHOICES, DashboardOptions
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
CHARTS = (("chart-series", "Live values"), ("chart-histogram", "Distribution"),
          ("chart-windows", "Window aggregates"), ("chart-quality", "Data quality"))
ALERT_COLUMNS = [column("at", "time (UTC)", width=TIME_WIDTH), column("rule", minWidth=160),
                 column("change", "transition", width=170), column("severity", width=110),
                 column("value", width=100, filter="agNumberColumnFilter"),
                 column("threshold", width=110, filter="agNumberColumnFilter"),
                 column("summary", flex=1, minWidth=240)]
#: Plotly's mode bar (shown on hover): only the buttons a live chart needs, so it stays narrow.
GRAPH_CONFIG = {"displaylogo": False, "displayModeBar": "hover",
                "modeBarButtonsToRemove": ["select2d", "lasso2d", "zoomIn2d", "zoomOut2d",
                                           "autoScale2d"]}


def kpi_card(kpi_id: str, label: str) -> dbc.Col:
    """One KPI card whose value has the id ``kpi-<kpi_id>``."""
    return dbc.Col(dbc.Card(dbc.CardBody([
        html.Div(label, className="sd-kpi-label"),
        html.Div("–", id=f"kpi-{kpi_id}", className="sd-kpi-value"),
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


def history_card(refresh: float) -> dbc.Col:
    """The "Pipeline history" card: a range picker and the chart of persisted snapshots,
    refreshed by its own ``history-tick`` every ``refresh`` seconds (not by the live tick)."""
    picker = dbc.RadioItems(id="history-range", value=DEFAULT_HISTORY_RANGE, inline=True,
                            options=[{"label": r, "value": r} for r in HISTORY_RANGES],
                            className="btn-group", inputClassName="btn-check",
                            labelClassName="btn btn-outline-secondary btn-sm",
                            labelCheckedClassName="active")
    header = dbc.CardHeader(html.Div([html.Span("Pipeline history", className="sd-card-title"),
                                      picker],
                                     className="d-flex justify-content-between "
                                               "align-items-center flex-wrap gap-2"))
    graph = dcc.Graph(id="chart-history", style={"height": "460px"}, config=GRAPH_CONFIG,
                      figure={"data": [], "layout": {"height": 460}})
    return dbc.Col([dbc.Card([header, dbc.CardBody(graph, className="p-2")],
                             className="shadow-sm h-100"),
                    dcc.Interval(id="history-tick", interval=int(refresh * 1000)),
                    dcc.Store(id="history-state")], xs=12)  # the version this browser shows


def _header(title: str, source_label: str, opts: DashboardOptions) -> html.Header:
    picker = dbc.RadioItems(id="refresh-picker", options=refresh_options(opts.refresh),
                            value=opts.refresh, inline=True, className="btn-group",
                            inputClassName="btn-check",
                            labelClassName="btn btn-outline-secondary btn-sm",
                            labelCheckedClassName="active")
    return html.Header(dbc.Row([
        dbc.Col(html.H1(title, className="h3 mb-0"), width="auto"),
        dbc.Col(html.Span(source_label, id="source-label", className="text-muted"),
                width="auto"),
        # The badge's title (hover text) names the firing alerts and other reasons.
        dbc.Col(dbc.Badge("…", id="status-badge", color="secondary", className="sd-status",
                          title=""), width="auto"),
        dbc.Col(html.Span("", id="poll-interval", className="text-muted small"), width="auto"),
        dbc.Col(html.Span(["Last update: ", html.Span("never", id="last-update",
                                                      className="sd-updated")]),
                className="ms-auto", width="auto"),
        dbc.Col(html.Div([html.Span("Refresh"), picker],
                         className="d-flex align-items-center gap-2"), width="auto"),
    ], align="center", className="py-3 g-3"))


def _controls(opts: DashboardOptions) -> dbc.Row:
    def dropdown(dd_id: str, label: str, value: str, placeholder: str) -> dbc.Col:
        return dbc.Col(html.Label([label, dcc.Dropdown(
            id=dd_id, options=field_options([value] if value else []), value=value or None,
            clearable=dd_id == "key-field", placeholder=placeholder)], className="w-100"),
            xs=12, md=4, lg=3)
    return dbc.Row([dropdown("value-field", "Value field", opts.value_field, "numeric field"),
                    dropdown("key-field", "Key field (one line per key)", opts.key_field,
                             "no key: one line")], className="g-3 mb-3")


def build_layout(title: str, source_label: str, opts: DashboardOptions,
                 rate_window: float = 60.0, history_refresh: float = 30.0,
                 window_note: str = "") -> dbc.Container:
    """The whole page: header, alerts, KPIs, field pickers, charts, tables, timer and stores.

    ``rate_window`` (seconds) is the window the quality rates are computed over (for labels);
    ``history_refresh`` (seconds) how often the pipeline-history chart re-reads the store;
    ``window_note`` says on the window card why it trails the live chart.
    """
    window = f"{rate_window:g} s"
    interval, max_intervals = refresh_props(opts.refresh)
    graphs = {cid: dcc.Graph(id=cid, config=GRAPH_CONFIG, style={"height": "320px"},
                             figure={"data": [], "layout": {"height": 320}})
              for cid, _ in CHARTS}
    return dbc.Container([
        _header(title, source_label, opts),
        dbc.Alert("", id="stale-warning", color="warning", is_open=False, className="sd-stale"),
        html.Div([dbc.Alert("", id=f"alert-slot-{i}", is_open=False, color="danger",
                            className="sd-alert mb-2") for i in range(ALERT_SLOTS)]
                 + [html.Div("", id="alert-more", className="text-danger small mb-2")],
                 id="alert-banners"),
        dbc.Row([kpi_card(i, label.format(w=window)) for i, label in KPI_IDS],
                className="g-3 mb-3"),
        _controls(opts),
        dbc.Row([_card(CHARTS[0][1], graphs["chart-series"], lg=8),
                 _card(CHARTS[1][1], graphs["chart-histogram"], lg=4)], className="g-3 mb-3"),
        dbc.Row([_card(CHARTS[2][1], [html.Div(window_note, id="window-note",
                                               className="sd-note px-1"),
                                      graphs["chart-windows"]], lg=6),
                 _card(CHARTS[3][1], graphs["chart-quality"], lg=6)], className="g-3 mb-3"),
        dbc.Row([history_card(history_refresh)], className="g-3 mb-3"),
        dbc.Row([_card("Alert history", grid("grid-alerts", ALERT_COLUMNS, 220), xs=12)],
                className="g-3 mb-3"),
        dbc.Row([_card("Latest records", grid("grid-latest", [], 320), xs=12)],
                className="g-3 mb-3"),
        dbc.Row([_card("Late records", grid("grid-late", LATE_COLUMNS, 260), xs=12)],
                className="g-3 mb-3"),
        # Full width: a quarantined record needs the room to be read.
        dbc.Row([_card("Quarantined records", grid("grid-quarantine", QUARANTINE_COLUMNS), xs=12),
                 _card("Ingestion errors", grid("grid-errors", ERROR_COLUMNS), xs=12)],
                className="g-3 mb-4"),
        dcc.Interval(id="tick", interval=interval, max_intervals=max_intervals),
        # What this browser holds (sequence numbers, versions), so ticks send only news.
        dcc.Store(id="series-state"), dcc.Store(id="client-state"),
    ], fluid=True, className="pb-4")
