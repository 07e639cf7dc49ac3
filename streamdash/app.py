"""The app factory: a Runtime and the Dash app (with its Flask routes) around it.

The dashboard and the routes read the runtime only through its memory
:class:`~streamdash.state.base.StreamState` (``streamdash.state``).
"""

from __future__ import annotations

from collections.abc import Mapping
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
from .state import DEFAULT_STREAM, MemoryStore, StreamInfo
from .state.build import attach_publisher, open_store
from .state.memory import runtime_info


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
    """Build the runtime and its dashboard; start the runtime unless ``start`` is False.

    The runtime is reachable as ``app.runtime`` (stop it with ``app.runtime.stop()``); the
    dash-auth object guarding every route as ``app.auth`` (None when ``auth`` asks no login).
    The page and the API read the runtime in place; with ``state.backend: redis`` the runtime
    also writes its state there, for web processes (:func:`create_web_app`) to serve.
    Nothing is kept at module level, so several apps can live in one process.
    """
    settings = settings or Settings()
    auth = auth_settings(settings.section("auth"))  # a bad auth section fails before any I/O
    runtime = runtime or Runtime(settings, source)
    attach_publisher(runtime, settings)
    redactor = output_redactor(runtime.settings.as_dict(), runtime.source)
    app = _dash_app(settings, auth, MemoryStore(runtime).stream(), redactor, runtime.settings)
    app.runtime = runtime  # type: ignore[attr-defined]
    if start:
        runtime.start()
    return app


def create_web_app(settings: Settings | None = None, *,
                   environ: Mapping[str, str] | None = None, store: Any = None) -> Dash:
    """A web process: the dashboard and the API of what workers write to Redis, no pipeline.

    ``settings`` must say ``state.backend: redis``; ``store`` overrides the store they name.
    The page is built from what the worker says the stream is (from the local settings until
    a worker wrote). ``app.runtime`` is ``None``; ``app.state_store`` is the store (close it
    when done). Any number of these may serve one store: they hold no state of their own.
    """
    settings = settings or Settings()
    auth = auth_settings(settings.section("auth"))
    info, redactor = describe_locally(settings, environ)
    if store is None:
        if settings.model.state.backend != "redis":
            raise ConfigError("state.backend", "a web process serves what workers write to "
                                               "Redis: set state.backend: redis (streamdash run"
                                               " serves its own pipeline)")
        store = open_store(settings, environ=environ, fallback=lambda name: info)
    app = _dash_app(settings, auth, store.stream(DEFAULT_STREAM), redactor)
    app.runtime = None  # type: ignore[attr-defined]
    app.state_store = store  # type: ignore[attr-defined]
    return app


def describe_locally(settings: Settings, environ: Mapping[str, str] | None = None
                     ) -> tuple[StreamInfo, Redactor]:
    """What the configured stream is, and its secrets, from the settings alone: the pipeline
    is built as ``check-config`` builds it (no thread, no data dir, no history: a web process
    reads the shared one through its store), read, and dropped."""
    runtime = Runtime(settings.with_overrides({"data_dir": "", "storage.enabled": False}))
    try:
        return runtime_info(runtime), output_redactor(settings.as_dict(), runtime.source,
                                                      environ)
    finally:
        runtime.source.close()


def _dash_app(settings: Settings, auth: Any, stream: Any, redactor: Redactor,
              api_settings: Settings | None = None) -> Dash:
    """The Dash app around one stream's state: login, dashboard, routes (bounded by
    ``api_settings``, default ``settings``), secret filter."""
    app = Dash(__name__, title="streamdash", assets_folder=assets_folder(), serve_locally=True,
               update_title=None)
    # Before any route: the login's hooks must run ahead of every other before_request.
    app.auth = install_auth(app, auth)  # type: ignore[attr-defined]
    # Callback payloads are small; a bigger body is refused (413) before anything parses it.
    app.server.config["MAX_CONTENT_LENGTH"] = settings.get("server.max_request_bytes")
    app.live = install_dashboard(app, stream, settings)  # type: ignore[attr-defined]
    register_routes(app.server, stream, api_settings or settings, redactor)
    install_redaction(app.server, redactor)
    return app


def check_settings(settings: Settings) -> None:
    """Validate every section exactly as :func:`create_app` would, without running anything.

    Builds the whole app — source, schema and transforms (a preset's own schema included),
    alert rules and webhooks, storage options, dashboard options — but starts no thread and
    leaves the data dir untouched. Raises ``ConfigError`` naming the first bad key.
    """
    app = create_app(settings.with_overrides({"data_dir": ""}), start=False)
    app.runtime.source.close()
