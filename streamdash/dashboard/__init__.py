"""The Dash dashboard: figures (one module per chart, each declaring its panel), panels (the
charts found), ids, layout (no I/O), tables/alerts (pure), live snapshots, callbacks."""

from __future__ import annotations

from dash import Dash

from ..config import Settings
from ..runtime import Runtime
from .callbacks import register_callbacks
from .guard import install_guards
from .layout import build_layout
from .live import LiveView, history_refresh, window_note
from .options import dashboard_options


def install_dashboard(app: Dash, runtime: Runtime, settings: Settings) -> LiveView:
    """Give ``app`` the dashboard layout and callbacks for ``runtime``; returns its LiveView.

    The dashboard's settings (``dashboard`` section) are validated here: an unknown key or a
    bad value raises ``ConfigError`` naming it.
    """
    options = dashboard_options(settings, runtime.source.hints)
    live = LiveView(runtime, options)
    # The KPI labels name the window the quality monitor computes its rates over.
    window = getattr(getattr(runtime, "monitor", None), "window", None)
    app.layout = build_layout("streamdash", f"{runtime.source.name} ({runtime.source.kind})",
                              options, getattr(window, "window", 60.0),
                              history_refresh(runtime.reporter.interval), window_note(runtime))
    register_callbacks(app, live)
    install_guards(app)  # malformed callback requests: 400; unknown suite paths: 404
    return live
