"""WSGI entry point for gunicorn: ``gunicorn -c gunicorn.conf.py streamdash.wsgi:server``.

Importing this module is the one place with an import-time side effect: it reads the settings
(``STREAMDASH_CONFIG`` names an optional YAML file; ``data_dir`` defaults to
``./streamdash-data``), configures logging, applies the secure default (no login on an
exposed address: refuse; see :mod:`streamdash.auth_config`) and builds the app. The runtime's
threads are started by :func:`start`, which ``gunicorn.conf.py`` calls from
``post_worker_init`` in the worker process (threads started in the master before a fork would be
lost), and stopped by :func:`stop` from ``worker_exit``: stop polling, drain the queue, flush
the history.

With ``state.backend: redis`` this is a web process instead (:func:`streamdash.app.
create_web_app`): no pipeline, the dashboard and API of what ``streamdash worker`` writes to
Redis, and gunicorn may run any number of workers.
"""

from __future__ import annotations

import atexit
import logging
import os

from .app import create_app, create_web_app
from .auth_config import enforce_secure_default, hosts_from_env
from .config import load_settings, with_default_data_dir
from .gc_tuning import tune_for_streaming
from .logs import configure_logging, log_settings, secret_values

_settings = with_default_data_dir(load_settings())
configure_logging(_settings.get("log.level"), _settings.get("log.format"),
                  secrets=secret_values(_settings.as_dict()))
# The bind is gunicorn's: gunicorn.conf.py passes it in STREAMDASH_BIND; under another server
# it is unknown and counts as exposed (a login, or an explicit auth.mode: none, is needed).
enforce_secure_default(_settings, hosts_from_env(os.environ),
                       logging.getLogger("streamdash.wsgi"))
log_settings(logging.getLogger("streamdash.wsgi"), _settings)
if _settings.get("state.backend") == "redis":
    app = create_web_app(_settings)
else:
    app = create_app(_settings, start=False)
server = app.server
runtime = app.runtime  # None in a web process


def start() -> None:
    """Start the pipeline in this (worker) process; idempotent.

    The worker process belongs to streamdash, so it gets the same garbage-collector tuning as
    ``streamdash run`` (see :mod:`streamdash.gc_tuning`).
    """
    tune_for_streaming()
    if runtime is not None:
        runtime.start()


def stop(drain_timeout: float | None = None) -> None:
    """Stop polling, drain the queue (at most ``drain_timeout`` s), flush the history (a web
    process closes its connections to Redis)."""
    if runtime is not None:
        runtime.stop(drain_timeout)
    else:
        app.state_store.close()


@server.before_request
def _start_if_never_started() -> None:
    # Under a server without our gunicorn hooks, the first request starts the pipeline
    # (started_at stays set after stop(), so a request during shutdown does not restart it).
    if runtime is not None and runtime.started_at is None:
        runtime.start()


atexit.register(stop)
