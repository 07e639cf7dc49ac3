"""WSGI entry point for gunicorn: ``gunicorn streamdash.wsgi:server``.

Importing this module is the one place with an import-time side effect: it reads the settings
(``STREAMDASH_CONFIG`` names an optional YAML file), builds the app and starts its runtime.
Gunicorn imports it in the worker process, so the pipeline threads live where requests are served.
"""

from __future__ import annotations

import atexit

from .app import create_app
from .config import load_settings
from .logs import configure_logging

_settings = load_settings()
configure_logging(_settings.get("log.level"), _settings.get("log.format"))
app = create_app(_settings)
server = app.server
atexit.register(app.runtime.stop)
