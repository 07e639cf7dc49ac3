"""gunicorn's threaded worker, where no client holds a thread or the event loop for long.

gunicorn's ``gthread`` worker (27.x) hands every new connection to a thread, which waits up to
5 s for its first bytes and then reads the request with no time limit, and it closes a
connection by waiting up to 2 s *in its event loop* for the client to close too. Measured here
(2 threads, a "hello" app): 30 connections that send nothing delayed ``/health`` by 75 s; 4 that
send half a request froze the server for good; 10 that ask for ``Connection: close`` and never
close delayed it by 5.8 s. Any client can do that. :class:`BoundedThreadWorker` keeps gunicorn
and changes four things:

* the event loop reads a request's head (request line and headers, up to
  :data:`READ_AHEAD` bytes) without blocking; a thread gets the connection only once the head is
  complete. A connection without a complete head ``client_timeout`` s after it connected (or
  after its next request began) is closed;
* in the thread, reading the rest of a request, then writing its answer, each get
  ``client_timeout`` s (:class:`ClientSocket`); past that the connection is closed as if the
  client had gone, so a client trickling a body or not reading its answer frees the thread;
* closing never waits for the client (:class:`BoundedConn`);
* the connections closed by these bounds are counted and logged (one WARNING at most every
  :data:`REPORT_EVERY` s), so an attack or a misbehaving proxy shows.

Connections past ``worker_connections`` (``server.max_connections``) are not accepted: they
wait in the kernel's backlog (``server.backlog``), as with gunicorn's own worker. TLS is not
terminated here (the platform's router or a proxy does it); with gunicorn's own TLS settings the
worker falls back to gunicorn's behaviour.
"""

from __future__ import annotations

import errno
import re
import selectors
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

from gunicorn import http
from gunicorn.workers.gthread import TConn, ThreadWorker

#: Seconds between two WARNING lines counting the connections closed by the bounds.
REPORT_EVERY = 60.0
#: Bytes of a request head the event loop reads ahead; a longer head goes to a thread as it is
#: (bounded there by ``client_timeout``). Dash's requests carry heads of well under 2 KiB.
READ_AHEAD = 16 * 1024
#: Reads of 64 KiB a closing connection drops at most (what the client sent and nobody read).
_DRAIN_READS = 4
#: accept() errors that only mean "nothing to accept now".
_NOTHING_TO_ACCEPT = (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK)
#: accept() errors that mean this process has no file descriptor left for a new connection.
_OUT_OF_FILES = (errno.EMFILE, errno.ENFILE)
_HEAD_END = re.compile(rb"\r?\n\r?\n")


class ClientSocket(socket.socket):
    """A client connection whose blocking reads and writes in a thread have a deadline.

    :meth:`begin_request` gives the client ``limit`` s to send the rest of its request; the
    first write starts another ``limit`` s for the answer. Past a deadline ``on_stall()`` is
    called and the connection reads as closed by the client (``recv`` returns ``b""``, a write
    raises ``BrokenPipeError``): gunicorn then closes it without a traceback in the log.
    Non-blocking and Python-timed calls (gunicorn's event loop, its own bounded drains) pass
    through unchanged.
    """

    limit: float
    on_stall: Callable[[], None]

    @classmethod
    def adopt(cls, sock: socket.socket, limit: float,
              on_stall: Callable[[], None]) -> ClientSocket:
        """``sock`` (an accepted connection, detached by this call) as a :class:`ClientSocket`."""
        client = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        client.limit, client.on_stall = limit, on_stall
        client._deadline, client._reading = None, True
        return client

    def begin_request(self) -> None:
        """A request is being read: the client has ``limit`` s to send the rest of it."""
        self._deadline, self._reading = time.monotonic() + self.limit, True

    def _bounded(self, reading: bool, call: Callable[..., Any], *args: Any) -> Any:
        if self._deadline is None or self.gettimeout() is not None:
            return call(*args)
        if self._reading and not reading:  # the answer starts: a fresh span to take it
            self._deadline, self._reading = time.monotonic() + self.limit, False
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("client too slow")
        self.settimeout(remaining)
        try:
            return call(*args)
        finally:
            self.settimeout(None)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """As ``socket.recv``; ``b""`` once the request's deadline has passed."""
        try:
            return self._bounded(True, super().recv, bufsize, flags)
        except TimeoutError:
            self.on_stall()
            return b""

    def send(self, data: Any, flags: int = 0) -> int:
        """As ``socket.send``; ``BrokenPipeError`` once the answer's deadline has passed."""
        try:
            return self._bounded(False, super().send, data, flags)
        except TimeoutError:
            self.on_stall()
            raise BrokenPipeError(errno.EPIPE, "client stopped reading") from None

    def sendall(self, data: Any, flags: int = 0) -> None:
        """As ``socket.sendall``; ``BrokenPipeError`` once the answer's deadline has passed."""
        try:
            self._bounded(False, super().sendall, data, flags)
        except TimeoutError:
            self.on_stall()
            raise BrokenPipeError(errno.EPIPE, "client stopped reading") from None


class BoundedConn(TConn):
    """gunicorn's connection with the request head read so far, closed without waiting."""

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.head = bytearray()

    def close(self, graceful: bool = False) -> None:
        """Close now; ``graceful``: send FIN first and drop the bytes already received (unread
        bytes at close make the kernel send a reset, which can cut the answer short)."""
        if not graceful:
            super().close()
            return
        try:
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.setblocking(False)
            for _ in range(_DRAIN_READS):
                if not self.sock.recv(65536):
                    break
        except OSError:  # nothing more to read now, or the client is gone: close anyway
            pass
        finally:
            self.sock.close()


def head_complete(data: bytes | bytearray) -> bool:
    """Whether ``data`` holds a whole request head (the blank line after the headers)."""
    return _HEAD_END.search(data) is not None


class BoundedThreadWorker(ThreadWorker):
    """gunicorn's gthread worker where no client holds a thread longer than ``client_timeout``.

    :func:`bounded_worker` gives the class with a timeout (gunicorn takes a class and has no
    setting of its own to carry the value).
    """

    client_timeout: float = 10.0
    report_every: float = REPORT_EVERY

    def init_process(self) -> None:
        self.closed: Counter[str] = Counter()  # since the last report
        self._closed_lock = threading.Lock()  # stalls are counted from the request threads
        self._next_report = 0.0
        super().init_process()

    def accept(self, listener: Any) -> None:
        """Accept one connection; the event loop waits for its request head."""
        if self.cfg.is_ssl:  # the handshake needs a thread: gunicorn's own path
            super().accept(listener)
            return
        try:
            sock, address = listener.accept()
        except OSError as exc:
            if exc.errno in _NOTHING_TO_ACCEPT:
                return
            if exc.errno not in _OUT_OF_FILES:
                raise
            # The connection stays in the backlog; gunicorn's run loop enables accepting
            # again on its next turn, so a lack of descriptors does not spin the loop.
            self._count("out_of_files")
            self.set_accept_enabled(False)
            return
        self.nr_conns += 1
        client = ClientSocket.adopt(sock, self.client_timeout, partial(self._count, "stalled"))
        self._await_head(BoundedConn(self.cfg, client, address, listener.getsockname()))

    def on_client_socket_readable(self, conn: Any, client: Any) -> None:
        """A kept-alive connection's next request begins: read its head in the event loop."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        if not isinstance(conn, BoundedConn):  # accepted by gunicorn's own path (TLS)
            self.enqueue_req(conn)
            return
        self._await_head(conn)

    def _await_head(self, conn: BoundedConn) -> None:
        if self._read_head(conn, waiting=False):
            return
        conn.timeout = time.monotonic() + self.client_timeout
        self.pending_conns.append(conn)  # murder_pending() closes it past the timeout
        self.poller.register(conn.sock, selectors.EVENT_READ,
                             partial(self._read_head, conn, True))

    def _read_head(self, conn: BoundedConn, waiting: bool, *_: Any) -> bool:
        """Read what has arrived; once the head is whole (or the client closed), stop
        ``waiting`` for it and hand the connection to a thread (or close it). True then."""
        try:
            chunk = conn.sock.recv(READ_AHEAD - len(conn.head))
        except BlockingIOError:
            return False
        except OSError:
            chunk = b""
        conn.head += chunk
        if chunk and not head_complete(conn.head) and len(conn.head) < READ_AHEAD:
            return False
        if waiting:
            self.poller.unregister(conn.sock)
            self.pending_conns.remove(conn)
        if not chunk:  # the client closed
            self.nr_conns -= 1
            conn.close()
            return True
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(bytes(conn.head))
        conn.head.clear()
        conn.data_ready = True
        self.enqueue_req(conn)
        return True

    def handle(self, conn: Any) -> Any:
        """Serve one request in a thread, the client's reads and writes under deadlines."""
        if isinstance(conn.sock, ClientSocket):
            conn.sock.begin_request()
        return super().handle(conn)

    def murder_pending(self) -> None:
        """Close the connections without a request head after ``client_timeout`` s; report."""
        before = self.nr_conns
        super().murder_pending()
        if self.nr_conns < before:
            self._count("slow_head", before - self.nr_conns)
        self._report()

    def _count(self, reason: str, n: int = 1) -> None:
        with self._closed_lock:
            self.closed[reason] += n

    def _report(self) -> None:
        now = time.monotonic()
        if now < self._next_report:
            return
        with self._closed_lock:
            closed, self.closed = self.closed, Counter()
        if not closed:
            return
        self._next_report = now + self.report_every
        self.log.warning(
            "streamdash: closed %d connection(s) that sent no complete request head within "
            "server.client_timeout (%g s) and %d that took longer to send a request or take "
            "its answer; %d connection(s) waited: no file descriptor left (next report in %g s "
            "at the earliest)", closed["slow_head"], self.client_timeout, closed["stalled"],
            closed["out_of_files"], self.report_every)


def bounded_worker(client_timeout: float,
                   report_every: float = REPORT_EVERY) -> type[BoundedThreadWorker]:
    """The worker class gunicorn should use, with ``client_timeout`` (seconds) applied and the
    closed connections reported at most every ``report_every`` s."""
    return type("BoundedThreadWorker", (BoundedThreadWorker,),
                {"client_timeout": float(client_timeout), "report_every": float(report_every),
                 "__module__": __name__})
