"""The Dash dashboard: figures (one module per chart, each declaring its panel), panels (the
charts found), ids, layout (no I/O), tables/alerts (pure), live snapshots, callbacks."""

from __future__ import annotations

from dash import Dash

from ..config import Settings
from ..runtime import Runtime
from ..state import StreamState, as_stream
from .callbacks import register_callbacks
from .guard import install_guards
from .layout import build_layout
from .live import LiveView, history_refresh, stream_window_note
from .options import dashboard_options


def install_dashboard(app: Dash, state: StreamState | Runtime, settings: Settings) -> LiveView:
    """Give ``app`` the dashboard layout and callbacks for one stream's ``state`` (a runtime
    is read in place); returns its LiveView.

    The dashboard's settings (``dashboard`` section) are validated here: an unknown key or a
    bad value raises ``ConfigError`` naming it.
    """
    stream = as_stream(state)
    info = stream.info()
    options = dashboard_options(settings, info.hints)
    live = LiveView(stream, options)
    # The KPI labels name the window the quality monitor computes its rates over.
    app.layout = build_layout("streamdash", f"{info.title} ({info.kind})", options,
                              info.quality_window, history_refresh(info.snapshot_interval),
                              stream_window_note(info.window))
    register_callbacks(app, live)
    install_guards(app)  # malformed callback requests: 400; unknown suite paths: 404
    return live
