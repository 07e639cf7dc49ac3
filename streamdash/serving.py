"""``streamdash run`` serves through gunicorn, set up as the Procfile's deployment.

Flask's development server is not for users (it says so on every start), so ``streamdash run``
embeds gunicorn (``BaseApplication``) with the settings of ``gunicorn.conf.py``
(:data:`GUNICORN_SETTINGS`; ``tests/test_serving.py`` keeps the two equal): one worker process
with threads — every worker process would run its own pipeline — and the connection limits of
the ``server`` settings (:func:`~streamdash.connection_limits.gunicorn_limits`: how many
connections, the backlog, keep-alive, and the worker class that bounds slow clients).

Start-up order, so that nothing is ingested before the server can serve:

1. the master validates the settings (the caller) and binds the listening socket
   (:func:`bind_listener`, with ``server.backlog``): a busy port is a one-line
   :class:`~streamdash.errors.ServeError` before any pipeline exists, and a file-descriptor
   limit too low for ``server.max_connections`` a one-line ``ConfigError``;
2. gunicorn takes that very socket (``bind = fd://N``): nobody can take the port in between, and
   port 0 means a free port whose number is announced;
3. the worker process builds the app (``load``) and starts the runtime in ``post_worker_init``,
   after the fork: threads do not survive a fork, and a SQLite connection must not cross one;
   then it announces the URL, once.

Stopping: SIGTERM and Ctrl-C both make the master stop the worker gracefully (SIGTERM to it);
the worker ignores the terminal's SIGINT itself, so nothing interrupts its shutdown, which runs
in ``worker_exit``: stop polling, drain the queue (:data:`DRAIN_TIMEOUT`), join the threads,
flush the history. The master waits ``graceful_timeout`` for that, then exits 0.

Logging: gunicorn's own lines go through streamdash's handler (same format, same secret
filter); at INFO only its warnings and errors show, and requests are logged only with
``access_log`` (``--access-log``).
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
from collections.abc import Callable
from typing import Any

from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.errors import AppImportError

from .config import Settings
from .connection_limits import ensure_open_files, gunicorn_limits
from .errors import ServeError, StreamdashError
from .logs import log_event

log = logging.getLogger("streamdash.serve")

#: gunicorn settings shared with ``gunicorn.conf.py`` (the Procfile): see that file for why.
GUNICORN_SETTINGS: dict[str, Any] = {
    "workers": 1, "threads": 8, "max_requests": 0,
    "max_requests_jitter": 0, "preload_app": False, "control_socket_disable": True,
    "timeout": 30, "graceful_timeout": 9}
#: Seconds the worker gives the consumer to finish queued batches at shutdown (as the Procfile).
DRAIN_TIMEOUT = 4.0


def bind_listener(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A TCP socket listening on ``host:port``; :class:`ServeError` saying why when it can't.

    ``backlog``: connections the kernel queues while the worker holds ``server.max_connections``
    (the kernel caps it at ``net.core.somaxconn``).

    ``SO_REUSEADDR`` as gunicorn sets it: a restart right after a stop does not wait for old
    connections in TIME_WAIT, while a port another process listens on is still refused.
    """
    where = f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ServeError(f"cannot listen on {where}: unknown host ({exc})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        hint = (" (another streamdash or another server uses it: stop it or pick another "
                "--port)") if exc.errno == errno.EADDRINUSE else ""
        raise ServeError(f"cannot listen on {where}: {reason.lower()}{hint}") from None
    return sock


def url_of(sock: socket.socket) -> str:
    """The URL a browser opens for a listening socket (the real port when 0 was asked for)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


class _GunicornLog(glogging.Logger):
    """gunicorn's loggers writing through streamdash's handler (format and secret filter)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        ours = [h for h in logging.getLogger("streamdash").handlers
                if getattr(h, "_streamdash", False)]
        if not ours:  # logging not configured by streamdash: keep gunicorn's own handlers
            return
        for logger in (self.error_log, self.access_log):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            for handler in ours:
                logger.addHandler(handler)
            logger.propagate = False


class _Arbiter(Arbiter):
    """The master: Ctrl-C stops the worker gracefully, exactly as SIGTERM does.

    gunicorn's default for SIGINT is a quick stop (SIGQUIT to the worker) that could cut the
    drain and history flush short.
    """

    def handle_int(self) -> None:
        self.handle_term()


class StreamdashServer(BaseApplication):
    """gunicorn running one streamdash app: ``StreamdashServer(settings, sock).run()``.

    ``factory(settings)`` builds the Dash app (runtime not started) in the worker process;
    tests and the viewers benchmark pass their own. ``options`` overrides gunicorn settings
    (the benchmark's ``--threads``).
    """

    def __init__(self, settings: Settings, listener: socket.socket, *, access_log: bool = False,
                 factory: Callable[[Settings], Any] | None = None,
                 options: dict[str, Any] | None = None, workers: int = 1):
        self.settings = settings
        # One process runs the pipeline; web processes reading Redis (streamdash web) may be
        # many: they hold no state of their own.
        self.workers = workers
        self.url = url_of(listener)
        # gunicorn owns the socket from here on (it closes the descriptor it is given).
        self.listener_fd = listener.detach()
        self.access_log = access_log
        self.factory = factory or _build_app
        self.options = options or {}
        self.app: Any = None  # the Dash app, in the worker process only
        super().__init__(prog="streamdash")

    def load_config(self) -> None:
        """gunicorn settings: the Procfile's, our socket, our logging and our hooks."""
        level = self.settings.get("log.level")
        options = {
            **GUNICORN_SETTINGS,
            **gunicorn_limits(self.settings),
            "bind": [f"fd://{self.listener_fd}"],
            "workers": self.workers,
            "proc_name": "streamdash",
            "logger_class": _GunicornLog,
            # gunicorn's start/stop chatter only when asked for (DEBUG); problems always.
            "loglevel": "info" if level == "DEBUG" else "warning" if level == "INFO" else level,
            "errorlog": "-",
            "accesslog": "-" if self.access_log else None,
            "post_worker_init": self._post_worker_init,
            "worker_exit": self._worker_exit,
            **self.options,
        }
        for key, value in options.items():
            if key in self.cfg.settings:  # a setting an older gunicorn lacks is skipped
                self.cfg.set(key, value)

    def load(self) -> Any:
        """Build the app in the worker process (after the fork); its WSGI callable."""
        try:
            self.app = self.factory(self.settings)
        except StreamdashError as exc:  # one line, not gunicorn's traceback
            raise AppImportError(f"streamdash: {exc}") from None
        return self.app.server

    def _post_worker_init(self, worker: Any) -> None:
        # The master relays Ctrl-C as a graceful stop (SIGTERM); the terminal's own SIGINT
        # to the worker would otherwise exit it at once, in the middle of the drain.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        from .gc_tuning import tune_for_streaming

        tune_for_streaming()  # this process runs the pipeline (see gc_tuning for figures)
        if self.app.runtime is not None:  # a web process (streamdash web) runs none
            self.app.runtime.start()
        if worker.age == 1:  # the first worker announces the URL; the others serve it too
            log_event(log, logging.INFO, f"dashboard on {self.url}")

    def _worker_exit(self, server: Any, worker: Any) -> None:
        # Nothing may interrupt the drain and the flush now: the master kills the worker
        # after graceful_timeout anyway.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):
            signal.signal(sig, signal.SIG_IGN)
        if self.app is not None and self.app.runtime is not None:
            self.app.runtime.stop(timeout=DRAIN_TIMEOUT)
        elif self.app is not None:
            self.app.state_store.close()

    def run(self) -> int:  # type: ignore[override]
        """Serve until SIGTERM or Ctrl-C; 0 after a clean stop, 1 when gunicorn failed."""
        master = os.getpid()
        # In the master, before the fork: the worker inherits the raised limit.
        ensure_open_files(self.settings.model.server.max_connections)
        try:
            _Arbiter(self).run()
        except SystemExit as exc:
            if os.getpid() != master:
                raise  # the worker process leaving: it must not return into the caller
            code = exc.code
        except RuntimeError as exc:  # gunicorn's own start-up failures
            raise ServeError(str(exc)) from None
        # gunicorn's own statuses (3: worker failed to boot, 4: app failed to load) are
        # run-time failures in streamdash's convention.
        return 0 if code in (0, None) else 1


def _build_app(settings: Settings) -> Any:
    from .app import create_app

    return create_app(settings, start=False)
