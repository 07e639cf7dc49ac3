"""The web deployments ``bench dashboard`` loads with viewers, and the app they serve.

A deployment serves the dashboard on a 127.0.0.1 port from child processes and reports their
CPU time per component, so the benchmark can say what each costs per request and per tick:

* :class:`OneProcess` (``--web-workers 1``) is what ``streamdash run`` deploys: gunicorn with
  one worker process of ``threads`` threads and the pipeline inside it (the simulator adding
  ``rate`` records/s to ``points`` preloaded records), through :class:`StreamdashServer` with
  the default ``server`` settings — the connection limits measured are the ones deployed.
  Its component is ``web``.
* N > 1 web processes (``--web-workers 2,4``; any N with ``--split``) are the split deployment
  of :mod:`.split_servers`: ``redis-server``, one worker running the same simulator over the
  same preloaded records, and ``streamdash web`` under gunicorn with ``workers = N``; its
  components are ``web``, ``worker`` and ``redis``, and it counts Redis's commands, so the
  report shows what Redis costs per tick. :func:`check_web_workers` refuses it in one line
  when ``redis-server`` is not installed.
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

    def counters(self) -> dict[str, float]: ...

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


def bench_source(rate: float) -> SimulatedSource:
    """The stream a deployment serves: the simulator adding ``rate`` records/s, no faults."""
    return SimulatedSource(seed=5, batch_size=max(1, int(rate)), spread=1.0, null_rate=0,
                           duplicate_rate=0, late_rate=0, invalid_rate=0, outlier_rate=0)


def preload(buffer: Any, points: int, rate: float) -> None:
    """Fill ``buffer`` with ``points`` records, as if the stream had run at ``rate`` until now."""
    buffer.extend(fake_records(points, start=time.time() - points / rate, spread=1 / rate))


def check_web_workers(counts: list[int], split: bool = False) -> None:
    """Refuse, before anything runs, deployments this machine cannot start: the split ones
    (N > 1, or any N with ``split``) need Debian's ``redis-server``."""
    from .split_servers import redis_binary

    several = [n for n in counts if n > 1 or split]
    if several and redis_binary() is None:
        raise ConfigError("--web-workers", f"{','.join(map(str, several))} web process(es) "
                                           "reading Redis need redis-server, which is not "
                                           "on PATH (apt-get install redis-server); measure "
                                           "one process with --web-workers 1 (no --split)")


def deployment(workers: int, points: int, threads: int, rate: float,
               split: bool = False) -> Deployment:
    """The deployment of ``workers`` web processes: one process serving its own pipeline, or
    (N > 1, or ``split``) the split deployment on Redis."""
    if workers > 1 or split:
        from .split_servers import SplitDeployment

        return SplitDeployment(workers, points, threads, rate)
    return OneProcess(points, threads, rate)


class Child:
    """One child process of a deployment (``argv``), its output kept in a temporary file."""

    def __init__(self, name: str, argv: list[str]):
        self.name = name
        self.log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(argv, env=child_env(), stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.proc.pid)

    def failure(self) -> str | None:
        """Why the process is gone (its last log line), or ``None`` while it runs."""
        if self.proc.poll() is None:
            return None
        lines = self.log_lines()
        return f"{self.name} exited with status {self.proc.returncode}" + \
            (f": {lines[-1][:300]}" if lines else "")

    def warnings(self) -> list[str]:
        """Its WARNING and ERROR lines so far (e.g. connections the server closed)."""
        return [ln for ln in self.log_lines() if "WARNING" in ln or "ERROR" in ln]

    def log_lines(self) -> list[str]:
        self.log.flush()
        self.log.seek(0)
        return [ln.strip() for ln in self.log.read().splitlines() if ln.strip()]

    def stop(self) -> None:
        end_process(self.proc)
        self.log.close()


def end_process(proc: subprocess.Popen) -> None:
    """SIGTERM (a clean stop), SIGKILL after :data:`STOP_WITHIN` s; waits for the exit."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_WITHIN)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bench_child(module: str, command: str, arguments: dict[str, Any]) -> list[str]:
    """The command line running one of the benchmark's child processes: ``python -m
    streamdash.bench.<module> <command> <arguments as JSON>``."""
    return [sys.executable, "-m", f"streamdash.bench.{module}", command, json.dumps(arguments)]


class OneProcess:
    """``streamdash run``'s deployment in a child process (see the module docstring)."""

    label = "1 process"

    def __init__(self, points: int, threads: int, rate: float):
        self.args = {"points": points, "threads": threads, "rate": rate}
        self.server: Child | None = None

    def start(self) -> int:
        port = free_port()
        self.server = Child("server", bench_child("web_servers", "serve",
                                                  {**self.args, "port": port}))
        wait_ready(f"http://127.0.0.1:{port}", self)
        return port

    def cpu_seconds(self) -> dict[str, float]:
        return {"web": self.server.cpu_seconds() if self.server else 0.0}

    def counters(self) -> dict[str, float]:
        return {}

    def failure(self) -> str | None:
        return self.server.failure() if self.server else None

    def warnings(self) -> list[str]:
        return self.server.warnings() if self.server else []

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


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

        app = create_app(settings, bench_source(rate), start=False)
        preload(app.runtime.buffer, points, rate)
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


def child_env() -> dict[str, str]:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return {**os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}


def wait_ready(base: str, server: Deployment, path: str = "/_dash-layout") -> None:
    """Until ``base + path`` answers 200; ``RuntimeError`` when ``server`` failed meanwhile or
    :data:`START_WITHIN` passed."""
    import requests

    deadline = time.monotonic() + START_WITHIN
    while time.monotonic() < deadline:
        if (why := server.failure()) is not None:
            raise RuntimeError(why)
        try:
            if requests.get(base + path, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the benchmark server at {base} did not answer within {START_WITHIN:g} s")


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "serve":
    sys.exit(serve(**json.loads(sys.argv[2])))
