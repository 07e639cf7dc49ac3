"""Fixtures for the quality tests: a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    """A local HTTP server recording POSTed JSON; ``mode`` is ``ok``, ``fail`` or ``hang``."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.bodies: list[dict] = []
        self.attempts = 0
        self.release = threading.Event()
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._cond:
                    receiver.attempts += 1
                    receiver._cond.notify_all()
                if receiver.mode == "hang":
                    receiver.release.wait(10)
                    return
                code = 500 if receiver.mode == "fail" else 200
                if code == 200:
                    with receiver._cond:
                        receiver.bodies.append(json.loads(body))
                        receiver._cond.notify_all()
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook/secret-token-123"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        """Wait until ``predicate(self)`` is true (re-checked on every request)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    """A running local webhook receiver, closed after the test."""
    r = Receiver()
    yield r
    r.close()
