"""The Dash dashboard: figures (one module per chart, each declaring its panel), panels (the
charts found), ids, layout (no I/O), tables/alerts (pure), live snapshots, callbacks."""

from __future__ import annotations

from collections.abc import Mapping

from dash import Dash

from ..config import Settings
from ..errors import ConfigError
from ..runtime import Runtime
from ..state import DEFAULT_STREAM, StreamState, as_stream
from ..streams import stream_error
from . import ids
from .callbacks import register_callbacks
from .direct import answer_directly
from .guard import install_guards
from .ids import prop
from .layout import build_layout
from .live import LiveView, history_refresh, stream_window_note
from .options import dashboard_options
from .streams import StreamViews


def install_dashboard(app: Dash, state: StreamState | Runtime | Mapping[str, StreamState],
                      settings: Settings) -> StreamViews:
    """Give ``app`` the dashboard layout and callbacks for the streams' ``state`` (one
    stream's, a runtime read in place; or several by name, the default first); returns their
    views (``.first``: the default stream's LiveView).

    The dashboard's settings (each stream's ``dashboard`` section) are validated here: an
    unknown key or a bad value raises ``ConfigError`` naming it.
    """
    states = dict(state) if isinstance(state, Mapping) else {DEFAULT_STREAM: as_stream(state)}
    views = StreamViews({name: _view(stream, settings, name) for name, stream in states.items()})
    live = views.first
    info = live.state.info()
    # The KPI labels name the window the quality monitor computes its rates over.
    app.layout = build_layout("streamdash", f"{info.title} ({info.kind})", live.options,
                              info.quality_window, history_refresh(info.snapshot_interval),
                              stream_window_note(info.window), streams=views.names)
    direct = register_callbacks(app, views)
    # Malformed callback requests (a stream no one configured included): 400; unknown suite
    # paths: 404.
    install_guards(app, {prop(ids.STREAM, "data"): views.names,
                         prop(ids.STREAM_PICKER, "value"): views.names})
    answer_directly(app, direct)  # after the guard: it checks what these callbacks get
    return views


def _view(stream: StreamState, settings: Settings, name: str) -> LiveView:
    """The live view of one stream, with its own ``dashboard`` settings."""
    own = settings.for_stream(name) if settings.multi and name in settings.stream_names() \
        else settings
    try:
        return LiveView(stream, dashboard_options(own, stream.info().hints))
    except ConfigError as exc:
        raise stream_error(name, exc) if settings.multi else exc from None
