"""Gunicorn settings for streamdash (``gunicorn -c gunicorn.conf.py streamdash.wsgi:server``).

One worker *process* with several threads: every worker process would run its own pipeline,
queue and ring buffer, so more than one would show each visitor a different, partial stream.
With ``state.backend: redis`` the app is a web process (the pipeline runs in ``streamdash
worker``) and holds no state: then any number of workers may serve (``--workers N``).
The runtime's threads are started inside the worker (``post_worker_init``), never in the master
(threads do not survive ``fork``), and stopped on ``worker_exit``: stop polling, drain the
queue, flush the history. ``max_requests`` stays 0 (a worker recycled every N requests would
restart the pipeline and lose what it holds in memory). Settings that would break this are
refused at start with a message, not silently "fixed".

The connection limits (how many connections, the backlog, keep-alive, and the worker class that
bounds slow clients) come from the ``server`` settings, as for ``streamdash run``
(``streamdash/connection_limits.py``; sizing: docs/operations.md, "Viewers and connections").
"""

import os
import sys

bind = [f"0.0.0.0:{os.environ.get('PORT', '8050')}"]
workers = 1  # explicit: the platform's WEB_CONCURRENCY must not add workers
threads = 8
max_requests = 0
max_requests_jitter = 0
preload_app = False
# Recent gunicorn releases open a control socket that can add workers at run time; streamdash
# needs exactly one (older releases ignore this unknown setting).
control_socket_disable = True
timeout = 30
# SIGTERM: the master waits this long for the worker to drain and flush before killing it.
# Heroku sends SIGKILL 30 s after SIGTERM; streamdash promises a clean exit within 10 s.
graceful_timeout = 9
#: Seconds the worker gives the consumer to finish queued batches at shutdown.
DRAIN_TIMEOUT = 4.0


def _json_logging() -> dict:
    """Gunicorn's own log lines in the same format as streamdash's when ``log.format`` is json."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        from streamdash.config import load_settings

        settings = load_settings()
    except Exception:  # a bad setting is reported by the app with a clear message
        return {}
    if settings.get("log.format") != "json":
        return {}
    # Replaces gunicorn's own handlers of the same names (CONFIG_DEFAULTS in glogging).
    handler = {"class": "logging.StreamHandler", "formatter": "json"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "streamdash.logs.JsonFormatter"}},
        "handlers": {"console": {**handler, "stream": "ext://sys.stdout"},
                     "error_console": {**handler, "stream": "ext://sys.stderr"}},
        "root": {"level": "INFO", "handlers": ["console"]},
        "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["error_console"],
                                       "propagate": False, "qualname": "gunicorn.error"}},
    }


logconfig_dict = _json_logging()


def _server_limits() -> dict:
    """The connection limits of the ``server`` settings (defaults when the settings are bad:
    ``on_starting`` then refuses to start, naming the key)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from streamdash.config import Settings, load_settings
    from streamdash.connection_limits import gunicorn_limits

    try:
        settings = load_settings()
    except Exception:
        settings = Settings()
    return gunicorn_limits(settings)


_limits = _server_limits()
worker_class = _limits["worker_class"]  # gthread, with slow clients bounded
worker_connections = _limits["worker_connections"]
backlog = _limits["backlog"]
keepalive = _limits["keepalive"]
sendfile = _limits["sendfile"]


def _serves_a_pipeline():
    """True unless the settings make this a web process reading Redis (state.backend)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        from streamdash.config import load_settings

        return load_settings().get("state.backend") != "redis"
    except Exception:  # a bad setting is reported by the app with a clear message
        return True


def on_starting(server):
    """Refuse configurations that would split or recycle the pipeline, or expose it openly."""
    _check_settings(server)
    problems = []
    if server.cfg.workers != 1 and _serves_a_pipeline():
        problems.append(f"workers must be 1, got {server.cfg.workers} (each worker process "
                        "would run its own pipeline; add threads instead)")
    if server.cfg.max_requests:
        problems.append(f"max_requests must be 0, got {server.cfg.max_requests} (recycling "
                        "the worker restarts the pipeline)")
    if problems:
        for problem in problems:
            server.log.error("streamdash: refusing to start: %s", problem)
        sys.exit(3)


def _check_settings(server):
    """No login on a non-loopback bind, or too few file descriptors for
    ``server.max_connections``: refuse in one line, exit 2 (as ``streamdash run``).

    The binds are passed to the worker in ``STREAMDASH_BIND`` (the worker inherits the
    environment), where ``streamdash.wsgi`` applies the same rule. The raised descriptor limit
    is inherited by the worker too.
    """
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from streamdash.auth_config import auth_settings, bind_hosts, check_exposure
    from streamdash.config import BIND_ENV, load_settings
    from streamdash.connection_limits import ensure_open_files
    from streamdash.errors import ConfigError

    os.environ[BIND_ENV] = ",".join(server.cfg.bind)
    try:
        settings = load_settings()
        check_exposure(auth_settings(settings.section("auth")), bind_hosts(server.cfg.bind))
        ensure_open_files(server.cfg.worker_connections)
    except ConfigError as exc:
        server.log.error("streamdash: configuration error: %s", exc)
        sys.exit(2)


def nworkers_changed(server, new_value, old_value):
    """TTIN/TTOU must not add workers to a pipeline: put the count back to one."""
    if old_value is not None and new_value != 1 and _serves_a_pipeline():
        server.log.warning("streamdash: keeping 1 worker (asked for %s)", new_value)
        server.num_workers = 1


def post_worker_init(worker):
    """Start the pipeline in the worker process, where requests are served (a web process
    reading Redis has none to start).

    The worker has just imported the app (``streamdash.wsgi``), so the module is loaded; with
    another app this hook has nothing to start.
    """
    module = sys.modules.get("streamdash.wsgi")
    if module is not None:
        module.start()


def worker_exit(server, worker):
    """Stop polling, drain the queue and flush the history before the worker process ends."""
    module = sys.modules.get("streamdash.wsgi")
    if module is not None:
        module.stop(drain_timeout=DRAIN_TIMEOUT)
