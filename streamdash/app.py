"""The app factory: a Runtime and the Dash app (with its Flask routes) around it.

The dashboard and the routes read the runtime only through its memory
:class:`~streamdash.state.base.StreamState` (``streamdash.state``).
"""

from __future__ import annotations

from pathlib import Path

from dash import Dash

from .auth_config import auth_settings
from .config import Settings
from .dashboard import install_dashboard
from .redact import output_redactor
from .runtime import Runtime
from .server.auth import install_auth
from .server.redaction import install_redaction
from .server.routes import register_routes
from .sources import Source
from .state import MemoryStore


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
    Nothing is kept at module level, so several apps can live in one process.
    """
    settings = settings or Settings()
    auth = auth_settings(settings.section("auth"))  # a bad auth section fails before any I/O
    runtime = runtime or Runtime(settings, source)
    app = Dash(__name__, title="streamdash", assets_folder=assets_folder(), serve_locally=True,
               update_title=None)
    # Before any route: the login's hooks must run ahead of every other before_request.
    app.auth = install_auth(app, auth)  # type: ignore[attr-defined]
    # Callback payloads are small; a bigger body is refused (413) before anything parses it.
    app.server.config["MAX_CONTENT_LENGTH"] = settings.get("server.max_request_bytes")
    stream = MemoryStore(runtime).stream()
    redactor = output_redactor(runtime.settings.as_dict(), runtime.source)
    app.live = install_dashboard(app, stream, settings)  # type: ignore[attr-defined]
    register_routes(app.server, stream, runtime.settings, redactor)
    install_redaction(app.server, redactor)
    app.runtime = runtime  # type: ignore[attr-defined]
    if start:
        runtime.start()
    return app


def check_settings(settings: Settings) -> None:
    """Validate every section exactly as :func:`create_app` would, without running anything.

    Builds the whole app — source, schema and transforms (a preset's own schema included),
    alert rules and webhooks, storage options, dashboard options — but starts no thread and
    leaves the data dir untouched. Raises ``ConfigError`` naming the first bad key.
    """
    app = create_app(settings.with_overrides({"data_dir": ""}), start=False)
    app.runtime.source.close()
