"""streamdash.connection_limits: the ``server`` connection limits reach gunicorn, the
file-descriptor limit is checked before serving, and `streamdash run` stays up and answers
/health while more hostile connections than ``server.max_connections`` are open."""

from __future__ import annotations

import math
import resource
import socket
import subprocess
import sys

import pytest
import yaml

from streamdash.config import Settings
from streamdash.connection_limits import FD_HEADROOM, ensure_open_files, gunicorn_limits
from streamdash.errors import ConfigError
from streamdash.http_worker import BoundedThreadWorker
from tests.helpers import wait_for, within
from tests.test_serving import START_WITHIN, Command, command_env, free_port

#: gunicorn's event loop closes timed-out connections once a turn (at most 1 s apart).
LOOP_TURN = 1.0
INFINITY = resource.RLIM_INFINITY


class FakeLimits:
    """The parts of the ``resource`` module ensure_open_files uses, with set limits."""

    RLIMIT_NOFILE = resource.RLIMIT_NOFILE
    RLIM_INFINITY = INFINITY

    def __init__(self, soft: int, hard: int, refuse: bool = False):
        self.limits, self.refuse = (soft, hard), refuse

    def getrlimit(self, which: int) -> tuple[int, int]:
        return self.limits

    def setrlimit(self, which: int, limits: tuple[int, int]) -> None:
        if self.refuse:
            raise ValueError("not allowed")
        self.limits = limits


def test_limits_come_from_the_server_settings():
    """Every limit gunicorn uses is the setting of the same meaning; the worker class
    carries the client timeout."""
    settings = Settings({"server": {"max_connections": 3000, "backlog": 100, "keepalive": 7,
                                    "client_timeout": 4}})
    limits = gunicorn_limits(settings)
    assert limits["worker_connections"] == 3000 and limits["backlog"] == 100
    assert limits["keepalive"] == 7 and limits["sendfile"] is False
    assert issubclass(limits["worker_class"], BoundedThreadWorker)
    assert limits["worker_class"].client_timeout == 4


@pytest.mark.parametrize(("key", "value"), [("max_connections", 15), ("backlog", 70000),
                                            ("keepalive", -1), ("client_timeout", 0.1)])
def test_limits_out_of_bounds_are_refused(key, value):
    """Each limit has bounds; a value outside them is a one-line error naming the key."""
    with pytest.raises(ConfigError, match=f"^server.{key}: "):
        Settings({"server": {key: value}})


def test_open_file_limit_is_raised_to_what_the_connections_need():
    """A soft limit below connections + headroom is raised (not beyond what is needed);
    one already high enough, or unlimited, is left alone."""
    limits = FakeLimits(1024, 1 << 20)
    assert ensure_open_files(4096, limits=limits) == 4096 + FD_HEADROOM
    assert limits.limits == (4096 + FD_HEADROOM, 1 << 20)
    assert ensure_open_files(100, limits=FakeLimits(20000, 20000)) == 20000
    assert ensure_open_files(100, limits=FakeLimits(INFINITY, INFINITY)) == INFINITY


def test_open_file_limit_too_low_is_a_configuration_error():
    """When even the hard limit (or raising it) falls short, the error names the setting,
    the files needed and the limit, instead of connections failing one by one later."""
    with pytest.raises(ConfigError, match=r"^server.max_connections: 4096 connections need "
                                          rf"{4096 + FD_HEADROOM} open files, but this process "
                                          r"may open at most 1024 \(ulimit -Hn\)"):
        ensure_open_files(4096, limits=FakeLimits(512, 1024))
    with pytest.raises(ConfigError, match="raising the limit from 512 failed"):
        ensure_open_files(4096, limits=FakeLimits(512, INFINITY, refuse=True))


def test_run_refuses_when_the_descriptor_limit_is_too_low(tmp_path):
    """`streamdash run` under a hard limit of 512 open files with the default 4096
    connections exits 2 with one line saying what to change, before serving."""
    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))

    proc = subprocess.run([sys.executable, "-m", "streamdash", "--port", str(free_port()),
                           "--data-dir", str(tmp_path / "data")], cwd=tmp_path,
                          env=command_env(), capture_output=True, text=True,
                          timeout=START_WITHIN, preexec_fn=low_limit)
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if "server.max_connections" in line]
    assert len(errors) == 1 and "at most 512" in errors[0], proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr


def test_more_hostile_connections_than_the_limit_leave_the_server_up(tmp_path):
    """Three times ``server.max_connections`` silent connections, plus some stuck in their
    head or body: the server keeps running, answers /health once the connections ahead of it
    have had their ``client_timeout``, and logs what it closed."""
    limits = {"max_connections": 16, "backlog": 512, "client_timeout": 1.0, "keepalive": 1}
    config = tmp_path / "streamdash.yaml"
    config.write_text(yaml.safe_dump({"server": limits, "source": {"interval": 0.5}}))
    port = free_port()
    cmd = Command(tmp_path, "--config", str(config), "--port", str(port),
                  "--data-dir", str(tmp_path / "data"))
    hostile: list[socket.socket] = []
    try:
        cmd.wait_serving(f"http://127.0.0.1:{port}/health/live")
        for n in range(3 * limits["max_connections"] + 12):
            sock = socket.socket()
            sock.setblocking(False)  # past the backlog a connect would wait: never block here
            sock.connect_ex(("127.0.0.1", port))
            hostile.append(sock)
            if n % 5 == 1:
                sock.setblocking(True)
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            elif n % 5 == 2:
                sock.setblocking(True)
                sock.sendall(b"POST /api/metrics HTTP/1.1\r\nContent-Length: 999\r\n\r\n{")
        # Connections are accepted max_connections at a time, in order, each closed after
        # client_timeout (checked once a loop turn): the health check waits for those rounds.
        rounds = math.ceil((len(hostile) + 1) / limits["max_connections"])
        status, body = cmd.get(f"http://127.0.0.1:{port}/health",
                               timeout=within(*[limits["client_timeout"] + LOOP_TURN] * rounds))
        assert status == 200 and b'"status"' in body
        assert cmd.proc.poll() is None
        assert wait_for(lambda: "closed" in cmd.text()[1], within(LOOP_TURN)), cmd.text()[1]
        assert "Traceback" not in cmd.text()[1]
    finally:
        for sock in hostile:
            sock.close()
        cmd.kill()


def test_defaults_follow_the_sizing_rule():
    """The defaults follow docs/operations.md: about 2,000 browsers at two connections each,
    and an idle connection outlives the dashboard's refresh (a tick reuses it)."""
    settings = Settings()
    assert settings.model.server.max_connections >= 2 * 2000
    assert settings.model.server.keepalive > settings.model.dashboard.refresh
