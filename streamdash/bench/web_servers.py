"""The web deployments ``bench dashboard`` loads with viewers, and the app they serve.

A deployment serves the dashboard on a 127.0.0.1 port from child processes and reports their
CPU time per component, so the benchmark can say what each costs per request and per tick:

* :class:`OneProcess` (``--web-workers 1``) is what ``streamdash run`` deploys: gunicorn with
  one worker process of ``threads`` threads and the pipeline inside it (the simulator adding
  ``rate`` records/s to ``points`` preloaded records), through :class:`StreamdashServer` with
  the default ``server`` settings — the connection limits measured are the ones deployed.
  Its component is ``web``.
* N > 1 web processes (``--web-workers 2,4``) need the dashboard's state outside the web
  process: ``state: {backend: redis}`` and the ``streamdash web`` role of issue #15, which this
  version lacks; :func:`check_web_workers` refuses them, saying so. What plugs in here: a
  deployment that starts ``redis-server`` on a free port (as ``tests/servers.py`` does), one
  ``streamdash worker`` feeding the simulator into it, and ``streamdash web`` under gunicorn
  with ``workers = N``, all reading the same Redis; its ``cpu_seconds()`` adds ``redis``
  (``INFO cpu``: ``used_cpu_sys + used_cpu_user``) and ``worker`` to ``web``, which is how the
  report shows what Redis costs per tick. Nothing else in the benchmark changes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Protocol

from ..config import Settings
from ..errors import ConfigError
from ..sources.simulator import SimulatedSource
from ..testing import ListSource

#: Seconds a deployment may take to answer its first request (imports, building the app).
START_WITHIN = 90.0
#: Seconds a deployment may take to stop after SIGTERM before it is killed.
STOP_WITHIN = 15.0


class Deployment(Protocol):
    """A web deployment under load: ``start()`` returns its port; ``stop()`` ends it."""

    label: str

    def start(self) -> int: ...

    def cpu_seconds(self) -> dict[str, float]: ...

    def failure(self) -> str | None: ...

    def warnings(self) -> list[str]: ...

    def stop(self) -> None: ...


def fake_records(n: int, seed: int = 1, start: float | None = None,
                 spread: float = 1.0) -> list[dict[str, Any]]:
    """``n`` realistic simulator readings (5 sensors, no faults) ending about now."""
    start = time.time() if start is None else start
    sim = SimulatedSource(seed=seed, batch_size=n, spread=spread * n, clock=lambda: start,
                          null_rate=0, duplicate_rate=0, late_rate=0, invalid_rate=0,
                          outlier_rate=0)
    return sim.fetch()


def build_app(points: int) -> Any:
    """An app (runtime not started) whose buffer holds ``points`` records."""
    from ..app import create_app

    app = create_app(Settings({"buffer.capacity": points}), ListSource([], name="bench"),
                     start=False)
    app.runtime.buffer.extend(fake_records(points, start=time.time() - points * 0.05,
                                           spread=0.05))
    return app


def check_web_workers(counts: list[int]) -> None:
    """Refuse web-process counts this version cannot deploy, before anything runs."""
    several = [n for n in counts if n > 1]
    if not several:
        return
    reason = web_role_missing() or ("this benchmark does not start the web role yet "
                                    "(streamdash/bench/web_servers.py says what plugs in)")
    raise ConfigError("--web-workers", f"{','.join(map(str, several))} web processes need the "
                                       "dashboard's state in Redis, served by `streamdash web` "
                                       f"processes: {reason}; measure one process with "
                                       "--web-workers 1")


def web_role_missing() -> str | None:
    """Why several web processes cannot share one dashboard yet; ``None`` once they can."""
    from ..config import SettingsModel

    if "state" not in SettingsModel.model_fields:
        return "this version has no 'state' settings (state: {backend: redis})"
    found = subprocess.run([sys.executable, "-m", "streamdash", "web", "--help"],
                           capture_output=True, timeout=START_WITHIN, env=_child_env())
    if found.returncode != 0:
        return "this version has no `streamdash web` command"
    return None


def deployment(workers: int, points: int, threads: int, rate: float) -> Deployment:
    """The deployment of ``workers`` web processes (see :func:`check_web_workers`)."""
    check_web_workers([workers])
    return OneProcess(points, threads, rate)


class OneProcess:
    """``streamdash run``'s deployment in a child process (see the module docstring)."""

    label = "1 process"

    def __init__(self, points: int, threads: int, rate: float):
        self.args = {"points": points, "threads": threads, "rate": rate}
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.TemporaryFile("w+")

    def start(self) -> int:
        port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamdash.bench.web_servers", "serve",
             json.dumps({**self.args, "port": port})],
            env=_child_env(), stdout=self.log, stderr=self.log)
        _wait_ready(f"http://127.0.0.1:{port}", self)
        return port

    def cpu_seconds(self) -> dict[str, float]:
        return {"web": tree_cpu_seconds(self.proc.pid) if self.proc else 0.0}

    def failure(self) -> str | None:
        """Why the server is gone (its last log line), or ``None`` while it runs."""
        if self.proc is None or self.proc.poll() is None:
            return None
        lines = self._log_lines()
        return f"server exited with status {self.proc.returncode}" + \
            (f": {lines[-1][:300]}" if lines else "")

    def warnings(self) -> list[str]:
        """The server's WARNING and ERROR lines so far (e.g. connections it closed)."""
        return [ln for ln in self._log_lines() if "WARNING" in ln or "ERROR" in ln]

    def _log_lines(self) -> list[str]:
        self.log.flush()
        self.log.seek(0)
        return [ln.strip() for ln in self.log.read().splitlines() if ln.strip()]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_WITHIN)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def serve(port: int, points: int, threads: int, rate: float) -> int:
    """Serve the app as ``streamdash run`` does, with ``points`` records preloaded and the
    simulator adding ``rate`` records/s (the child process of :class:`OneProcess`)."""
    from ..logs import configure_logging
    from ..serving import StreamdashServer, bind_listener

    settings = Settings({"server": {"host": "127.0.0.1", "port": port},
                         "buffer": {"capacity": points}, "source": {"interval": 1.0},
                         "log": {"level": "WARNING"}})
    configure_logging("WARNING", "text")  # the server's warnings through streamdash's handler

    def factory(settings: Settings) -> Any:
        from ..app import create_app

        source = SimulatedSource(seed=5, batch_size=max(1, int(rate)), spread=1.0, null_rate=0,
                                 duplicate_rate=0, late_rate=0, invalid_rate=0, outlier_rate=0)
        app = create_app(settings, source, start=False)
        app.runtime.buffer.extend(fake_records(points, start=time.time() - points / rate,
                                               spread=1 / rate))
        return app

    listener = bind_listener("127.0.0.1", port, settings.get("server.backlog"))
    return StreamdashServer(settings, listener, factory=factory,
                            options={"threads": threads}).run()


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of ``pid`` and its child processes, from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == pid or int(fields[1]) == pid:  # fields[1] is the parent pid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def free_port() -> int:
    """A port nobody listens on (127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _child_env() -> dict[str, str]:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return {**os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}


def _wait_ready(base: str, server: OneProcess) -> None:
    import requests

    deadline = time.monotonic() + START_WITHIN
    while time.monotonic() < deadline:
        if (why := server.failure()) is not None:
            raise RuntimeError(why)
        try:
            if requests.get(base + "/_dash-layout", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the benchmark server at {base} did not answer within {START_WITHIN:g} s")


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "serve":
    sys.exit(serve(**json.loads(sys.argv[2])))
