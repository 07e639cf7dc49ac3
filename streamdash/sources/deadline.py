"""A watchdog that cuts an HTTP request in flight: at its total deadline, or when stopping.

Socket timeouts bound each ``recv`` only: a server sending one byte every 2 s of a 1 MB body
never trips a 10 s read timeout, and the thread reading it cannot notice a shutdown either.
The watchdog holds the socket of the response being read; when the deadline passes (a timer)
or :meth:`Watchdog.cut` is called (the runtime stops), it shuts the socket down, which ends the
blocked read at once. The reader then asks :attr:`Watchdog.fired` why its read ended.
"""

from __future__ import annotations

import socket
import threading
from typing import Any


def response_socket(resp: Any) -> socket.socket | None:
    """The socket a ``requests`` response (urllib3 1.x/2.x, streamed) reads from, if found."""
    raw = getattr(resp, "raw", None)
    fp = getattr(getattr(getattr(raw, "_fp", None), "fp", None), "raw", None)  # SocketIO
    sock = getattr(fp, "_sock", None)
    if sock is None:
        sock = getattr(getattr(raw, "_connection", None), "sock", None)
    return sock if isinstance(sock, socket.socket) else None


class Watchdog:
    """Cuts the current request's connection after ``arm(seconds)`` or on ``cut()``.

    One per source; requests of one source run one at a time (the producer's thread), so it
    guards at most one socket. ``fired`` is ``"deadline"``, ``"stopped"`` or ``None``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._timer: threading.Timer | None = None
        self.fired: str | None = None

    def arm(self, seconds: float) -> None:
        """Start the deadline of a new request."""
        with self._lock:
            self.fired = None
            self._sock = None
            self._timer = threading.Timer(seconds, self.cut, args=("deadline",))
            self._timer.daemon = True
            self._timer.name = "http-deadline"
        self._timer.start()

    def attach(self, resp: Any) -> None:
        """Guard the socket of ``resp`` (cut at once when the deadline passed already)."""
        sock = response_socket(resp)
        with self._lock:
            self._sock = sock
            if self.fired:
                _shutdown(sock)

    def cut(self, why: str = "stopped") -> None:
        """End the request in flight now (``why`` becomes :attr:`fired` unless already set)."""
        with self._lock:
            self.fired = self.fired or why
            _shutdown(self._sock)

    def disarm(self) -> None:
        """The request is over: stop the timer and forget the socket."""
        with self._lock:
            timer, self._timer, self._sock = self._timer, None, None
        if timer is not None:
            timer.cancel()


def _shutdown(sock: socket.socket | None) -> None:
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed: nothing left to cut
