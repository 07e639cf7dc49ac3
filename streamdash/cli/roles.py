"""``streamdash worker`` and ``streamdash web``: the pipeline and the dashboard as separate
processes, sharing one Redis (``state.backend: redis``, ``state.url`` or ``$REDIS_URL``).

* ``worker`` runs sources → pipeline → quality and writes the state to Redis after each batch;
  its only HTTP is ``/health`` on a side port (``--health-port``, default 8051).
* ``web`` serves the dashboard and the API of what workers write, through gunicorn with any
  number of worker processes (``--workers``, default ``$WEB_CONCURRENCY`` or 2): they hold no
  state of their own, so every one serves the same page.

``streamdash run`` (the default) stays the one-process deployment. Errors are one line with
the convention of every command (2: settings, 1: run time).
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from ..errors import ConfigError

#: The worker's flags (argparse dest) → dotted settings key.
WORKER_FLAGS = {"source": "source.type", "interval": "source.interval", "data_dir": "data_dir",
                "log_level": "log.level", "log_format": "log.format",
                "health_host": "worker.health_host", "health_port": "worker.health_port"}
#: The web's flags → dotted settings key.
WEB_FLAGS = {"source": "source.type", "interval": "source.interval", "host": "server.host",
             "port": "server.port", "data_dir": "data_dir", "log_level": "log.level",
             "log_format": "log.format", "refresh": "dashboard.refresh"}
#: Most gunicorn worker processes ``streamdash web`` starts.
MAX_WEB_WORKERS = 64


def register(sub: Any) -> None:
    """Add ``worker`` and ``web`` to the ``streamdash`` parser."""
    from .main import add_pipeline_arguments, add_server_arguments

    worker = sub.add_parser("worker", help="run the pipeline, writing its state to Redis",
                            description="Run sources, pipeline and quality checks; write the "
                                        "state to Redis for 'streamdash web' to serve. Needs "
                                        "state.backend: redis.")
    add_pipeline_arguments(worker)
    worker.add_argument("--health-host", help="address of /health (default 127.0.0.1)")
    worker.add_argument("--health-port", type=int,
                        help="port of /health (default 8051; 0 = a free port)")
    worker.set_defaults(func=cmd_worker)

    web = sub.add_parser("web", help="serve the dashboard of what workers write to Redis",
                         description="Serve the dashboard and the API of the state workers "
                                     "write to Redis; runs no pipeline. Needs state.backend: "
                                     "redis.")
    add_pipeline_arguments(web)
    add_server_arguments(web)
    web.add_argument("--workers", type=int, metavar="N",
                     help="gunicorn worker processes (1–64; default $WEB_CONCURRENCY or 2)")
    web.set_defaults(func=cmd_web)


def _settings(args: argparse.Namespace, flags: dict[str, str]) -> Any:
    from ..config import with_default_data_dir
    from ..logs import configure_logging, log_settings, secret_values
    from .main import settings_from_args

    settings = with_default_data_dir(settings_from_args(args, flags))
    configure_logging(settings.get("log.level"), settings.get("log.format"),
                      secrets=secret_values(settings.as_dict()))
    log_settings(logging.getLogger("streamdash.cli"), settings)
    return settings


def cmd_worker(args: argparse.Namespace) -> int:
    """Run a worker until SIGTERM or Ctrl-C (see :mod:`streamdash.worker`)."""
    settings = _settings(args, WORKER_FLAGS)
    from ..worker import run_worker

    return run_worker(settings)


def web_workers(given: int | None, environ: Any = None) -> int:
    """How many gunicorn workers ``streamdash web`` runs: ``--workers``, else
    ``$WEB_CONCURRENCY`` (Heroku sets it per dyno size), else 2; 1–64."""
    env = os.environ if environ is None else environ
    raw: Any = given if given is not None else env.get("WEB_CONCURRENCY", 2)
    where = "--workers" if given is not None else "WEB_CONCURRENCY"
    try:
        count = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(where, f"expected a whole number, got {str(raw)[:20]!r}") from None
    if not 1 <= count <= MAX_WEB_WORKERS:
        raise ConfigError(where, f"must be between 1 and {MAX_WEB_WORKERS}, got {count}")
    return count


def cmd_web(args: argparse.Namespace) -> int:
    """Serve the dashboard of what workers write to Redis until SIGTERM or Ctrl-C.

    Checked before anything is served: the settings (the backend must be redis; exit 2), the
    login rule for the address, then the port (bound here, exit 1).
    """
    workers = web_workers(args.workers)
    settings = _settings(args, WEB_FLAGS)
    if settings.get("state.backend") != "redis":
        raise ConfigError("state.backend", "streamdash web serves what workers write to Redis: "
                                           "set state.backend: redis and state.url (or "
                                           "REDIS_URL); 'streamdash run' serves its own "
                                           "pipeline")
    from ..auth_config import enforce_secure_default

    enforce_secure_default(settings, [settings.get("server.host")],
                           logging.getLogger("streamdash.cli"))
    from ..app import create_web_app  # dash: imported once the settings have passed
    from ..serving import StreamdashServer, bind_listener

    create_web_app(settings).state_store.close()  # every section checked, as run does
    listener = bind_listener(settings.get("server.host"), settings.get("server.port"))
    return StreamdashServer(settings, listener, access_log=args.access_log,
                            factory=create_web_app, workers=workers).run()
