"""`streamdash run` served by gunicorn (streamdash.serving): busy port, one URL, clean stops.

The serve tests start the real command (`python -m streamdash`) in its own session, as a user's
terminal would, with the checkout on PYTHONPATH and the data in a temporary folder.
"""

from __future__ import annotations

import os
import runpy
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from streamdash.config import load_settings
from streamdash.connection_limits import gunicorn_limits
from streamdash.errors import ServeError
from streamdash.serving import DRAIN_TIMEOUT, GUNICORN_SETTINGS, bind_listener, url_of
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[1]
INTERVAL = 0.2
#: Seconds a stop may take: gunicorn's graceful timeout (after which the master kills the
#: worker), plus the time a loaded machine needs to reap and exit.
STOP_WITHIN = GUNICORN_SETTINGS["graceful_timeout"] + 5
#: Start-up is importing dash and building the app twice (check, then the worker): generous,
#: because this machine's load is not ours to control; the test ends as soon as it is up.
START_WITHIN = 90


def free_port() -> int:
    """A port nobody listens on (127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command_env() -> dict[str, str]:
    """The environment of a user's shell, with this checkout first and no streamdash settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMDASH_")}
    env.pop("PORT", None)
    return {**env, "PYTHONPATH": str(ROOT)}


class Command:
    """`python -m streamdash ARGS` in its own session; stderr and stdout captured to files."""

    def __init__(self, tmp_path: Path, *args: str):
        self.err = (tmp_path / "stderr.log").open("w+")
        self.out = (tmp_path / "stdout.log").open("w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "streamdash", *args], cwd=tmp_path,
                                     env=command_env(), stdout=self.out, stderr=self.err,
                                     start_new_session=True)

    def text(self) -> tuple[str, str]:
        """(stdout, stderr) so far."""
        found = []
        for f in (self.out, self.err):
            f.flush()
            f.seek(0)
            found.append(f.read())
        return found[0], found[1]

    def get(self, url: str, timeout: float = 5) -> tuple[int, bytes]:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()

    def wait_serving(self, url: str) -> None:
        """Until ``url`` answers 200 (fails when the process exits first)."""
        def up() -> bool:
            assert self.proc.poll() is None, self.text()[1][-3000:]
            try:
                return self.get(url)[0] == 200
            except OSError:
                return False
        assert wait_for(up, START_WITHIN, 0.2), f"{url} never answered:\n{self.text()[1][-3000:]}"

    def stop(self, sig: int, group: bool = False) -> tuple[int, float]:
        """Send ``sig`` (to the whole session, as a terminal's Ctrl-C does, with ``group``);
        the exit status and how long the exit took."""
        start = time.monotonic()
        if group:
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=STOP_WITHIN + 30)
        return code, time.monotonic() - start

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def command(tmp_path):
    started: list[Command] = []

    def start(*args: str) -> Command:
        started.append(Command(tmp_path, *args))
        return started[-1]
    yield start
    for cmd in started:
        cmd.kill()


def test_serves_without_the_development_server_warning_and_stops_on_sigterm(command, tmp_path):
    """`streamdash` serves / through gunicorn: no "development server" warning, the URL
    announced once, no access log by default; SIGTERM stops the runtime and exits 0 within
    gunicorn's graceful timeout."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    cmd = command("--port", str(port), "--interval", str(INTERVAL),
                  "--data-dir", str(tmp_path / "data"))
    cmd.wait_serving(url + "health")
    status, body = cmd.get(url)
    assert status == 200 and b"streamdash" in body
    code, took = cmd.stop(signal.SIGTERM)
    out, err = cmd.text()
    assert code == 0 and took < STOP_WITHIN, (code, took, err[-3000:])
    assert "development server" not in out + err and "Traceback" not in err
    assert [line for line in err.splitlines() if url in line] == \
        [line for line in err.splitlines() if "dashboard on" in line]
    assert len([line for line in err.splitlines() if url in line]) == 1, err
    assert "GET / " not in out + err and "GET /health" not in out + err  # no access log
    assert "runtime stopped" in err and "config loaded" not in err  # full config: DEBUG only
    assert err.count("INFO streamdash.cli settings source=simulated") == 1


def test_ctrl_c_stops_cleanly_and_access_log_is_opt_in(command, tmp_path):
    """Ctrl-C (SIGINT to the whole process group) stops as cleanly as SIGTERM: the runtime
    stops once, threads joined, exit 0; with --access-log every request is logged."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    cmd = command("--port", str(port), "--interval", str(INTERVAL), "--access-log",
                  "--data-dir", str(tmp_path / "data"), "--log-format", "json")
    cmd.wait_serving(url + "health")
    cmd.get(url + "api/metrics")
    code, took = cmd.stop(signal.SIGINT, group=True)
    out, err = cmd.text()
    assert code == 0 and took < STOP_WITHIN, (code, took, err[-3000:])
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.count('"msg": "runtime stopped"') == 1, err
    assert "GET /api/metrics" in out + err


def test_busy_port_exits_1_before_ingesting_anything(command, tmp_path):
    """A port in use is reported in one line naming it, exit 1, before the pipeline starts:
    no record ingested, no data dir created."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        cmd = command("--port", str(port), "--interval", str(INTERVAL),
                      "--data-dir", str(tmp_path / "data"))
        code = cmd.proc.wait(timeout=START_WITHIN)
    out, err = cmd.text()
    assert code == 1, err
    problems = [line for line in err.splitlines() if " INFO streamdash.cli settings " not in line]
    assert len(problems) == 1, err
    assert problems[0].startswith(f"streamdash: cannot listen on 127.0.0.1:{port}: address "
                                  "already in use")
    assert "runtime started" not in err and "Traceback" not in err
    assert not (tmp_path / "data").exists()


def test_bind_listener_reports_busy_and_unknown_addresses():
    """bind_listener refuses a taken port and an unresolvable host with a ServeError; port 0
    gets a free port, which the announced URL shows."""
    sock = bind_listener("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        assert url_of(sock) == f"http://127.0.0.1:{port}/"
        with pytest.raises(ServeError, match=f"127.0.0.1:{port}: address already in use"):
            bind_listener("127.0.0.1", port)
    finally:
        sock.close()
    with pytest.raises(ServeError, match="unknown host"):
        bind_listener("no-such-host.invalid", 8050)


def test_gunicorn_settings_are_the_procfiles(monkeypatch):
    """`streamdash run` and the Procfile (gunicorn.conf.py) run gunicorn the same way, with
    the connection limits of the same ``server`` settings (here from the environment)."""
    monkeypatch.setenv("STREAMDASH_SERVER__MAX_CONNECTIONS", "3000")
    monkeypatch.setenv("STREAMDASH_SERVER__CLIENT_TIMEOUT", "4")
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert {key: conf[key] for key in GUNICORN_SETTINGS} == GUNICORN_SETTINGS
    assert conf["DRAIN_TIMEOUT"] == DRAIN_TIMEOUT
    limits = gunicorn_limits(load_settings())
    worker = limits.pop("worker_class")
    assert {key: conf[key] for key in limits} == limits and limits["worker_connections"] == 3000
    assert conf["worker_class"].__mro__[1:] == worker.__mro__[1:]
    assert conf["worker_class"].client_timeout == worker.client_timeout == 4


def test_app_failing_in_the_worker_is_one_line_and_exit_1(tmp_path):
    """An app that cannot be built in the worker ends the server with exit status 1 and its
    one-line reason, not gunicorn's traceback."""
    code = ("import sys\n"
            "from streamdash.config import Settings\n"
            "from streamdash.errors import SourceError\n"
            "from streamdash.logs import configure_logging\n"
            "from streamdash.serving import StreamdashServer, bind_listener\n"
            "def broken(settings):\n"
            "    raise SourceError('feed gone at http://127.0.0.1:9/x')\n"
            "configure_logging('INFO', 'text')\n"
            "sock = bind_listener('127.0.0.1', 0)\n"
            "sys.exit(StreamdashServer(Settings(), sock, factory=broken).run())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=command_env(), cwd=tmp_path, timeout=START_WITHIN)
    assert proc.returncode == 1, proc.stderr
    assert "streamdash: feed gone at http://127.0.0.1:9/x" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_console_at_info_says_each_thing_once(command, tmp_path):
    """A preset pointed at a dead URL: its interval warning appears once (the settings check
    in the master is a dry run), each failed poll is one line with the cause in a few words."""
    port = free_port()
    dead = f"http://127.0.0.1:{free_port()}/quakes"
    cmd = command("--source", "usgs-earthquakes", "--url", dead, "--port", str(port),
                  "--data-dir", str(tmp_path / "data"))
    cmd.wait_serving(f"http://127.0.0.1:{port}/health/live")
    assert wait_for(lambda: "fetch failed" in cmd.text()[1], START_WITHIN, 0.2), cmd.text()[1]
    code, _ = cmd.stop(signal.SIGTERM)
    err = cmd.text()[1]
    assert code == 0, err
    assert err.count("shorter than usgs-earthquakes allows") == 1, err
    failed = [line for line in err.splitlines() if "fetch failed" in line]
    assert failed and all(f"connection at {dead}: connection failed: Connection refused" in line
                          for line in failed), failed
    assert "ingestion failed" not in err and "HTTPConnectionPool" not in err
