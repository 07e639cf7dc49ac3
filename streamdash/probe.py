"""The worker's only HTTP: ``/health``, ``/health/live`` and ``/health/ready`` on a side port.

A ``streamdash worker`` serves no dashboard and no API, but an orchestrator (Kubernetes, a
load balancer's check, an operator's ``curl``) still needs to ask it how it is. The
:class:`HealthServer` answers the three probes from the worker's own state with the same
decisions as the web routes (``state/probes.py``), through the same secret filter, on the
standard library's threading HTTP server: no Flask in the worker. Anything else is a JSON
404; a request must be read within :data:`REQUEST_TIMEOUT` seconds and carries no body.

There is no login here, so the whole report (components, source, alert summaries) is served
on a loopback address only; bound anywhere else, ``/health`` answers the status alone, as
public as ``/health/ready``.
"""

from __future__ import annotations

import json
import logging
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .auth_config import is_loopback
from .errors import ServeError
from .logs import log_event
from .models import finite
from .redact import Redactor
from .state.base import StreamState
from .state.probes import health_answer, ready_answer
from .threads import STOP_TIMEOUT, Background, ThreadRunner

log = logging.getLogger("streamdash.probe")

#: Seconds a client has to send its request line and headers.
REQUEST_TIMEOUT = 10.0


class HealthServer(Background):
    """Serves the probes of ``stream`` on ``host:port`` (0: a free port, see :attr:`url`).

    Binds at construction, so a port in use is a :class:`~streamdash.errors.ServeError`
    before anything starts; ``start()`` serves from a thread, ``stop()`` shuts it down.
    """

    def __init__(self, stream: StreamState, host: str, port: int,
                 redactor: Redactor | None = None):
        self.stream = stream
        self.redactor = redactor or Redactor()
        try:
            self.httpd = ThreadingHTTPServer((host, port), _handler(self))
        except (OSError, socket.gaierror) as exc:
            raise ServeError(f"cannot serve the worker's health on {host}:{port}: "
                             f"{(exc.strerror or str(exc)).lower()}") from None
        self.httpd.daemon_threads = True
        self.private = is_loopback(host)
        bound_host, bound_port = self.httpd.server_address[:2]
        self.url = f"http://{bound_host}:{bound_port}"
        self._runner = ThreadRunner("health", self._serve)

    def _serve(self) -> None:
        log_event(log, logging.INFO, f"worker health on {self.url}/health")
        self.httpd.serve_forever(poll_interval=0.2)

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Stop serving, close the socket; True when the thread ended within ``timeout``."""
        if self._runner.alive:
            self.httpd.shutdown()  # returns once serve_forever has
        self.httpd.server_close()
        return self._runner.stop(timeout)

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        """The status and JSON body for ``path`` (a probe, or 404)."""
        path = path.split("?", 1)[0]
        if path == "/health":
            code, report = health_answer(self.stream)
            return code, report if self.private else {"status": report["status"]}
        if path == "/health/ready":
            return ready_answer(self.stream)
        if path == "/health/live":
            return 200, {"status": "ok"}
        return 404, {"error": "a worker serves /health, /health/live and /health/ready only"}


def _handler(server: HealthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT
        server_version = "streamdash-worker"
        sys_version = ""

        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            code, body = server.answer(self.path)
            text = server.redactor.text(json.dumps(finite(body), default=str, allow_nan=False))
            data = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # probes every few seconds would flood the log

    return Handler
