"""The dashboard layout (no I/O: everything it shows comes from callbacks)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

KPI_IDS = (("total", "Records ingested"), ("rate", "Records/s"), ("latest", "Latest value"),
           ("mean", "Mean value"))


def kpi_card(kpi_id: str, label: str) -> dbc.Col:
    """One KPI card whose value has the id ``kpi-<kpi_id>``."""
    return dbc.Col(dbc.Card(dbc.CardBody([
        html.Div(label, className="sd-kpi-label"),
        html.Div("–", id=f"kpi-{kpi_id}", className="sd-kpi-value"),
    ]), className="sd-kpi shadow-sm"), xs=6, md=3)


def build_layout(title: str, source_label: str, refresh_s: float) -> html.Div:
    """The page: header with last-update time, KPI cards, and the refresh timer."""
    return dbc.Container([
        html.Header(dbc.Row([
            dbc.Col(html.H1(title, className="h3 mb-0"), width="auto"),
            dbc.Col(html.Span(source_label, id="source-label", className="text-muted")),
            dbc.Col(html.Span(["Last update: ", html.Span("never", id="last-update",
                                                          className="sd-updated")]),
                    width="auto"),
        ], align="center", className="py-3")),
        dbc.Row([kpi_card(i, label) for i, label in KPI_IDS], className="g-3"),
        dcc.Interval(id="tick", interval=int(max(refresh_s, 0.1) * 1000),
                     disabled=refresh_s <= 0),
    ], fluid=True)
