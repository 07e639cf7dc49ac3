"""The app factory: a Runtime and the Dash app (with its Flask routes) around it.

The dashboard and the routes read the runtime only through its memory
:class:`~streamdash.state.base.StreamState` (``streamdash.state``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dash import Dash

from .auth_config import auth_settings
from .config import Settings
from .dashboard import install_dashboard
from .errors import ConfigError
from .redact import Redactor, output_redactor
from .runtime import Runtime
from .server.auth import install_auth
from .server.redaction import install_redaction
from .server.routes import register_routes
from .sources import Source
from .state import MemoryStore, StreamInfo
from .state.build import attach_publisher, open_store
from .state.memory import runtime_info
from .streams import StreamRuntimes, stream_error


def assets_folder() -> str:
    """Where the dashboard's CSS/JS lives: inside the installed package, else the checkout.

    ``setup.py`` maps the top-level ``assets/`` to ``streamdash/assets`` in the wheel.
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "assets", here.parent / "assets"):
        if (candidate / "bootstrap.min.css").is_file():
            return str(candidate)
    raise FileNotFoundError(f"streamdash assets not found next to {here}")


def create_app(settings: Settings | None = None, source: Source | None = None, *,
               runtime: Runtime | None = None, start: bool = True) -> Dash:
    """Build the runtimes and their dashboard; start them unless ``start`` is False.

    One runtime per stream (``streams``; a config without it is one stream, ``default``):
    ``app.runtimes`` (a :class:`~streamdash.streams.StreamRuntimes`: start and stop them all
    with it), ``app.runtime`` the default stream's (``source`` and ``runtime`` replace the
    default stream's, for tests). The dash-auth object guarding every route is ``app.auth``
    (None when ``auth`` asks no login). The page and the API read the runtimes in place; with
    ``state.backend: redis`` each runtime also writes its state there, under its stream's
    name, for web processes (:func:`create_web_app`) to serve. Nothing is kept at module
    level, so several apps can live in one process.
    """
    settings = settings or Settings()
    auth = auth_settings(settings.section("auth"))  # a bad auth section fails before any I/O
    runtimes = StreamRuntimes(settings, source, runtime=runtime)
    for name, rt in runtimes.items():  # one stream: the app's settings, as before
        attach_publisher(rt, rt.settings if settings.multi else settings, stream=name)
    if len(runtimes) == 1:
        redactor = output_redactor(runtimes.first.settings.as_dict(), runtimes.first.source)
    else:
        redactor = combined(output_redactor(settings.as_dict(), rt.source)
                            for _, rt in runtimes.items())
    store = MemoryStore(runtimes.runtimes)
    app = _dash_app(settings, auth, streams_of(store), redactor, runtimes.first.settings)
    app.runtime = runtimes.first  # type: ignore[attr-defined]
    app.runtimes = runtimes  # type: ignore[attr-defined]
    if start:
        runtimes.start()
    return app


def create_web_app(settings: Settings | None = None, *,
                   environ: Mapping[str, str] | None = None, store: Any = None) -> Dash:
    """A web process: the dashboard and the API of what workers write to Redis, no pipeline.

    ``settings`` must say ``state.backend: redis``; ``store`` overrides the store they name.
    Every configured stream is read (its own keys in Redis); each page is built from what the
    worker says the stream is (from the local settings until a worker wrote). ``app.runtime``
    is ``None``; ``app.state_store`` is the store (close it when done). Any number of these
    may serve one store: they hold no state of their own.
    """
    settings = settings or Settings()
    auth = auth_settings(settings.section("auth"))
    described = {name: _described(settings, name, environ) for name in settings.stream_names()}
    redactor = combined(red for _, red in described.values())
    if store is None:
        if settings.model.state.backend != "redis":
            raise ConfigError("state.backend", "a web process serves what workers write to "
                                               "Redis: set state.backend: redis (streamdash run"
                                               " serves its own pipeline)")
        store = open_store(settings, environ=environ, names=tuple(described),
                           fallback=lambda name: described[name][0])
    app = _dash_app(settings, auth, streams_of(store), redactor)
    app.runtime = None  # type: ignore[attr-defined]
    app.runtimes = None  # type: ignore[attr-defined]
    app.state_store = store  # type: ignore[attr-defined]
    return app


def streams_of(store: Any) -> dict[str, Any]:
    """Every stream ``store`` holds, by name, in its order (the first is the default)."""
    return {name: store.stream(name) for name in store.streams()}


def combined(redactors: Iterable[Redactor]) -> Redactor:
    """One redactor masking what any of ``redactors`` masks (every stream's secrets are
    masked in every answer: a page of one stream may quote another's error)."""
    return Redactor([secret for red in redactors for secret in red.secrets])


def _described(settings: Settings, name: str, environ: Mapping[str, str] | None
               ) -> tuple[StreamInfo, Redactor]:
    try:
        return describe_locally(settings.for_stream(name), environ)
    except ConfigError as exc:
        raise stream_error(name, exc) if settings.multi else exc from None


def describe_locally(settings: Settings, environ: Mapping[str, str] | None = None
                     ) -> tuple[StreamInfo, Redactor]:
    """What the configured stream is, and its secrets, from the settings alone: the pipeline
    is built as ``check-config`` builds it (no thread, no data dir, no history: a web process
    reads the shared one through its store), read, and dropped (``settings``: one stream's,
    ``Settings.for_stream``)."""
    runtime = Runtime(settings.with_overrides({"data_dir": "", "storage.enabled": False}))
    try:
        return runtime_info(runtime), output_redactor(settings.as_dict(), runtime.source,
                                                      environ)
    finally:
        runtime.source.close()


def _dash_app(settings: Settings, auth: Any, streams: Mapping[str, Any], redactor: Redactor,
              api_settings: Settings | None = None) -> Dash:
    """The Dash app around the streams' states (by name, the default first): login,
    dashboard, routes (bounded by ``api_settings``, default ``settings``), secret filter."""
    app = Dash(__name__, title="streamdash", assets_folder=assets_folder(), serve_locally=True,
               update_title=None)
    # Before any route: the login's hooks must run ahead of every other before_request.
    app.auth = install_auth(app, auth)  # type: ignore[attr-defined]
    # Callback payloads are small; a bigger body is refused (413) before anything parses it.
    app.server.config["MAX_CONTENT_LENGTH"] = settings.get("server.max_request_bytes")
    views = install_dashboard(app, streams, settings)
    app.live = views.first  # type: ignore[attr-defined]
    app.stream_views = views  # type: ignore[attr-defined]
    register_routes(app.server, streams, api_settings or settings, redactor)
    install_redaction(app.server, redactor)
    return app


def check_settings(settings: Settings) -> None:
    """Validate every section exactly as :func:`create_app` would, without running anything.

    Builds the whole app — source, schema and transforms (a preset's own schema included),
    alert rules and webhooks, storage options, dashboard options — but starts no thread and
    leaves the data dir untouched. Raises ``ConfigError`` naming the first bad key.
    """
    app = create_app(settings.with_overrides({"data_dir": ""}), start=False)
    app.runtimes.close()
