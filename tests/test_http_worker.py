"""streamdash.http_worker: gunicorn's threaded worker where no client holds a thread or the
event loop — tested on a real gunicorn serving a tiny WSGI app on 127.0.0.1, and on socket
pairs for the two socket-level pieces."""

from __future__ import annotations

import inspect
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from gunicorn import util

from streamdash.http_worker import BoundedConn, ClientSocket, head_complete
from tests.helpers import wait_for, wait_until, within

ROOT = Path(__file__).resolve().parents[1]
#: Seconds a client may stall in the tests below (short, so that the tests are).
CLIENT_TIMEOUT = 1.0
#: gunicorn's event loop closes timed-out connections once a turn (at most 1 s apart).
LOOP_TURN = 1.0
#: Bytes of /big: more than loopback's socket buffers hold, so an unread answer blocks.
BIG = 32 * 1024 * 1024

APP = f'''
def app(environ, start_response):
    path = environ["PATH_INFO"]
    body = b"big" * ({BIG} // 3) if path == "/big" else \\
        str(len(environ["wsgi.input"].read())).encode() if path == "/echo" else b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''

CONF = '''
from streamdash.http_worker import bounded_worker
bind = "127.0.0.1:{port}"
worker_class = bounded_worker({timeout}, report_every=0)
threads = {threads}
worker_connections = 64
keepalive = 5
sendfile = False
loglevel = "warning"
'''


class Server:
    """gunicorn with the bounded worker and the tiny app, in its own session."""

    def __init__(self, tmp_path: Path, threads: int, timeout: float, open_files: int = 0):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        (tmp_path / "tinyapp.py").write_text(APP)
        (tmp_path / "tinyconf.py").write_text(CONF.format(port=self.port, timeout=timeout,
                                                          threads=threads))
        self.log = (tmp_path / "gunicorn.log").open("w+")
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(tmp_path / "tinyconf.py"),
             "tinyapp:app"], cwd=tmp_path, env=env, stdout=self.log, stderr=self.log,
            start_new_session=True, preexec_fn=(lambda: resource.setrlimit(
                resource.RLIMIT_NOFILE, (open_files, open_files))) if open_files else None)
        wait_until(self._up, within(30), "the test server to answer")

    def _up(self) -> bool:
        assert self.proc.poll() is None, self.text()
        try:
            return self.get("/") == "ok"
        except requests.RequestException:
            return False

    def get(self, path: str, timeout: float = 30) -> str:
        return requests.get(f"http://127.0.0.1:{self.port}{path}", timeout=timeout).text

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port))

    def text(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def closed(self, reason: str) -> int:
        """Connections the worker reported closed for ``reason`` so far."""
        pattern = {"slow_head": r"closed (\d+) connection\(s\) that sent no complete",
                   "stalled": r"and (\d+) that took longer",
                   "out_of_files": r"; (\d+) connection\(s\) waited"}[reason]
        return sum(int(n) for n in re.findall(pattern, self.text()))

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def server(tmp_path):
    started: list[Server] = []

    def start(threads: int = 2, timeout: float = CLIENT_TIMEOUT, open_files: int = 0) -> Server:
        started.append(Server(tmp_path, threads, timeout, open_files))
        return started[-1]
    yield start
    for srv in started:
        srv.stop()


def at_eof(sock: socket.socket) -> bool:
    """Whether the server closed ``sock`` (without waiting: False while it is open)."""
    sock.setblocking(False)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def test_requests_are_served_keepalive_pipelined_and_trickled(server):
    """Ordinary clients notice nothing: keep-alive requests with bodies, two pipelined
    requests in one write, and a head sent byte by byte within the timeout are all answered."""
    srv = server()
    with requests.Session() as session:
        for size in (0, 10, 5000, 100_000):
            reply = session.post(f"http://127.0.0.1:{srv.port}/echo", data=b"x" * size, timeout=30)
            assert reply.text == str(size)
    with srv.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
        sock.settimeout(within(1))
        received = b""
        while received.count(b"200 OK") < 2:
            received += sock.recv(4096)
    with srv.connect() as sock:
        for byte in b"GET / HTTP/1.1\r\nHost: t\r\n\r\n":
            sock.send(bytes([byte]))
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
    assert "Traceback" not in srv.text()


def test_silent_and_half_sent_clients_are_closed_after_client_timeout(server):
    """Connections that send nothing, half a head, or half a body are closed once
    ``client_timeout`` has passed (not before), the only thread is freed, and the worker
    reports what it closed."""
    srv = server(threads=1)
    hostile = [srv.connect() for _ in range(5)]
    for _ in range(5):
        hostile.append(srv.connect())
        hostile[-1].sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
    hostile.append(srv.connect())  # a whole head, half a body: it holds the only thread
    hostile[-1].sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nab")
    opened = time.monotonic()
    wait_until(lambda: all(at_eof(s) for s in hostile), within(CLIENT_TIMEOUT, LOOP_TURN),
               "every hostile connection to be closed")
    assert time.monotonic() - opened >= CLIENT_TIMEOUT * 0.9  # the client had its time
    assert srv.get("/") == "ok"
    wait_until(lambda: srv.closed("slow_head") == 10 and srv.closed("stalled") == 1,
               within(LOOP_TURN), f"the report of 10 + 1 closed:\n{srv.text()}")
    for sock in hostile:
        sock.close()


def test_ordinary_requests_do_not_wait_for_slow_heads(server):
    """With one thread, 40 connections that are silent or stuck in their head do not delay a
    request: it is answered while every one of them is still open (they hold no thread)."""
    srv = server(threads=1, timeout=300)
    hostile = [srv.connect() for _ in range(20)]
    for _ in range(20):
        hostile.append(srv.connect())
        hostile[-1].sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
    wait_until(lambda: "ok" == srv.get("/"), within(1), "an answer")
    assert not any(at_eof(s) for s in hostile)
    for sock in hostile:
        sock.close()


def test_clients_that_leave_mid_head_are_closed_without_a_report(server):
    """A client that sends half a head and leaves is closed at once: nothing waits for its
    timeout, nothing is reported (it is not slow, it is gone)."""
    srv = server(threads=1, timeout=300)
    for _ in range(5):
        with srv.connect() as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
    assert srv.get("/") == "ok"
    assert "closed" not in srv.text()


def test_running_out_of_file_descriptors_postpones_accepts(server):
    """With fewer descriptors than connections, accepting waits instead of failing: the
    server stays up, reports it, and answers once the hostile connections are gone."""
    srv = server(threads=1, open_files=64)  # worker_connections is 64: more than it can open
    hostile = []
    for _ in range(80):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", srv.port))
        hostile.append(sock)
    wait_until(lambda: srv.closed("out_of_files") > 0, within(CLIENT_TIMEOUT, LOOP_TURN),
               f"the report of postponed accepts:\n{srv.text()}")
    for sock in hostile:
        sock.close()
    assert srv.get("/", timeout=within(CLIENT_TIMEOUT, LOOP_TURN)) == "ok"
    assert srv.proc.poll() is None and "Traceback" not in srv.text()


def test_a_client_not_reading_its_answer_frees_the_thread(server):
    """A client that asks for a large answer and never reads it holds the only thread for
    ``client_timeout`` at most: the next request is answered after that."""
    srv = server(threads=1)
    with srv.connect() as greedy:
        greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        greedy.sendall(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        assert srv.get("/", timeout=within(CLIENT_TIMEOUT, LOOP_TURN)) == "ok"
        wait_until(lambda: srv.closed("stalled") == 1, within(LOOP_TURN),
                   f"the stalled answer reported:\n{srv.text()}")


def test_client_socket_read_deadline_reads_as_end_of_stream():
    """In a request, a read that gets nothing for the limit returns b"" (the client's end)
    and counts a stall; outside a request (non-blocking use) reads behave as usual."""
    ours, peer = socket.socketpair()
    stalls = []
    client = ClientSocket.adopt(ours, 0.2, lambda: stalls.append(1))
    try:
        client.setblocking(False)
        with pytest.raises(BlockingIOError):
            client.recv(10)
        client.setblocking(True)
        client.begin_request()
        peer.sendall(b"abc")
        assert client.recv(10) == b"abc"
        began = time.monotonic()
        assert client.recv(10) == b"" and stalls == [1]
        assert time.monotonic() - began >= 0.1
        assert client.gettimeout() is None  # blocking again, as gunicorn left it
    finally:
        client.close()
        peer.close()


def test_client_socket_write_deadline_is_a_broken_pipe():
    """An answer the client does not take within the limit ends in BrokenPipeError (gunicorn
    closes quietly) and counts a stall; the limit starts with the answer, not the request."""
    ours, peer = socket.socketpair()
    stalls = []
    client = ClientSocket.adopt(ours, 0.2, lambda: stalls.append(1))
    try:
        client.begin_request()
        time.sleep(0.3)  # the app's own time does not count against the client
        assert client.send(b"x") == 1
        with pytest.raises(BrokenPipeError):
            client.sendall(b"x" * BIG)
        assert stalls == [1]
        with pytest.raises(BrokenPipeError):
            client.send(b"x" * BIG)
    finally:
        client.close()
        peer.close()


def test_closing_does_not_wait_for_the_client():
    """A graceful close sends the answer's end (FIN) and returns at once, where gunicorn's
    own waits up to its linger for the client to close too."""
    ours, peer = socket.socketpair()
    conn = BoundedConn(None, ours, ("127.0.0.1", 1), ("127.0.0.1", 2))
    peer.sendall(b"unread request bytes")
    began = time.monotonic()
    conn.close(graceful=True)
    linger = inspect.signature(util.close_graceful).parameters["timeout"].default
    assert time.monotonic() - began < linger / 2
    assert wait_for(lambda: peer.recv(10) == b"", 5)
    peer.close()


@pytest.mark.parametrize(("data", "complete"), [
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True), (b"GET / HTTP/1.1\r\nHost: x\r\n", False),
    (b"GET / HTTP/1.0\n\n", True), (b"", False), (b"POST / HTTP/1.1\r\n\r\nbody", True)])
def test_head_complete(data, complete):
    """A head is complete at its blank line, whatever follows (the body)."""
    assert head_complete(data) is complete
