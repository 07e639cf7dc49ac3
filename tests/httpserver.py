"""A real HTTP server on 127.0.0.1 (port 0) that plays scripted replies, for tests that need an
upstream API (sources, the runtime's persistence, the deploy, the DLQ export, alert scenarios).

Each path has a script: replies served in order, then a ``then`` reply served forever. A reply
can be a :class:`Reply` or a callable ``(request) -> Reply`` (to answer conditionally). Every
request is recorded (method, path with query, headers) so tests can assert what was sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass
class Reply:
    """One scripted response.

    ``delay`` hangs before answering (a read timeout for the client); ``drop`` closes the
    connection without any response; ``chunks`` streams ``(bytes, pause)`` pieces without a
    Content-Length and then closes (``hold`` keeps it open until the server stops);
    ``content_length`` overrides the header (a lie makes the body look truncated).
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    chunks: list[tuple[bytes, float]] | None = None
    hold: bool = False
    content_length: int | None = None


def json_reply(doc: Any, status: int = 200, **kw: Any) -> Reply:
    """A JSON response."""
    headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
    return Reply(status, orjson.dumps(doc), headers, **kw)


@dataclass
class Request:
    """What the server received."""

    method: str
    path: str
    headers: dict[str, str]


Script = Reply | Callable[[Request], Reply]


class ScriptedServer:
    """Threaded HTTP server with per-path scripts; use as a context manager."""

    def __init__(self, port: int = 0):
        self.requests: list[Request] = []
        self._scripts: dict[str, tuple[list[Script], Script]] = {}
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                server._serve(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})

    def url(self, path: str = "/") -> str:
        """Absolute URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, *replies: Script, then: Script | None = None) -> None:
        """Serve ``replies`` in order on ``path``, then ``then`` (default: the last reply)."""
        seq = list(replies)
        last = then if then is not None else (seq[-1] if seq else Reply(404))
        if then is None and seq:
            seq = seq[:-1]
        with self._lock:
            self._scripts[path] = (seq, last)

    def hits(self, path: str) -> list[Request]:
        """Requests received on ``path`` (query string ignored)."""
        return [r for r in list(self.requests) if r.path.split("?", 1)[0] == path]

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- serving -----------------------------------------------------------------------------
    def _next(self, req: Request) -> Reply:
        path = req.path.split("?", 1)[0]
        with self._lock:
            seq, last = self._scripts.get(path, ([], Reply(404, b'{"error": "no route"}')))
            script = seq.pop(0) if seq else last
        return script(req) if callable(script) else script

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        req = Request("GET", h.path, {k: v for k, v in h.headers.items()})
        self.requests.append(req)
        reply = self._next(req)
        if reply.delay and self.stopping.wait(reply.delay):
            return
        if reply.drop:
            h.close_connection = True
            return
        h.send_response(reply.status)
        for name, value in reply.headers.items():
            h.send_header(name, value)
        if reply.chunks is not None:
            h.send_header("Connection", "close")
            h.end_headers()
            h.close_connection = True
            try:
                for data, pause in reply.chunks:
                    h.wfile.write(data)
                    h.wfile.flush()
                    if pause and self.stopping.wait(pause):
                        return
                while reply.hold and not self.stopping.wait(0.05):
                    pass
            except OSError:
                pass  # the client went away
            return
        length = len(reply.body) if reply.content_length is None else reply.content_length
        h.send_header("Content-Length", str(length))
        if reply.content_length is not None and reply.content_length != len(reply.body):
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        if reply.status != 304 and reply.body:
            try:
                h.wfile.write(reply.body)
            except OSError:
                pass
