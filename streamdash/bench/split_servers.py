"""The split deployment ``bench dashboard`` loads with ``--web-workers N`` (N > 1, or any N with
``--split``): the dashboard's state in Redis, as issue #15 deploys it.

:class:`SplitDeployment` starts, in a temporary directory, on free 127.0.0.1 ports:

1. Debian's ``redis-server`` (:class:`RedisProcess`: no persistence, nothing but loopback);
2. one worker (:func:`serve_worker`: ``streamdash worker``'s :func:`~streamdash.worker.run_worker`
   with the same simulator as the one-process deployment and the same ``points`` preloaded
   records, published to Redis at its first write);
3. ``streamdash web``'s server (:func:`serve_web`: :class:`~streamdash.serving.StreamdashServer`
   with ``create_web_app`` and ``workers = N`` gunicorn processes of ``threads`` threads, the
   default ``server`` connection limits).

It reports the CPU of each (``web``: the gunicorn master and its N workers; ``worker``;
``redis``: ``INFO cpu``, user + system) and Redis's ``total_commands_processed``, so the report
can divide Redis's cost by the ticks the viewers had answered. A part that fails to start is a
``RuntimeError`` naming it (the row's note), never a traceback; stopping ends every part.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

from ..config import Settings
from .web_servers import (
    START_WITHIN,
    Child,
    bench_child,
    bench_source,
    end_process,
    free_port,
    preload,
    wait_ready,
)


def redis_binary() -> str | None:
    """Where ``redis-server`` is (Debian's package puts it on PATH), or ``None``."""
    return shutil.which("redis-server")


class RedisProcess:
    """``redis-server`` on a free loopback port, its files in ``workdir``, no persistence."""

    name = "redis-server"

    def __init__(self, binary: str, workdir: str):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = open(f"{workdir}/redis.log", "w+")  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", workdir,
             "--save", "", "--appendonly", "no", "--protected-mode", "yes",
             "--daemonize", "no"], stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir)
        self.client: Any = None
        self.last = (0.0, 0)

    def wait_ready(self) -> None:
        """Until it answers PING; ``RuntimeError`` saying why when it exits or stays silent."""
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=1)
        deadline = time.monotonic() + START_WITHIN
        while time.monotonic() < deadline:
            if (why := self.failure()) is not None:
                raise RuntimeError(why)
            try:
                client.ping()
                self.client = client
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not answer within "
                           f"{START_WITHIN:g} s")

    def info(self) -> tuple[float, int]:
        """Its CPU seconds (user + system) and the commands it has processed; the last
        figures read when it no longer answers (its failure is then the row's note)."""
        import redis

        if self.client is not None:
            try:
                cpu, stats = self.client.info("cpu"), self.client.info("stats")
                self.last = (float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
                             int(stats["total_commands_processed"]))
            except redis.RedisError:
                pass
        return self.last

    def failure(self) -> str | None:
        if self.proc.poll() is None:
            return None
        self.log.flush()
        self.log.seek(0)
        lines = [ln.strip() for ln in self.log.read().splitlines() if ln.strip()]
        return f"redis-server exited with status {self.proc.returncode}" + \
            (f": {lines[-1][:300]}" if lines else "")

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        end_process(self.proc)
        self.log.close()


class SplitDeployment:
    """redis-server, one worker and a web server of ``workers`` processes (module docstring)."""

    def __init__(self, workers: int, points: int, threads: int, rate: float):
        self.label = f"{workers} web+redis"
        self.workers, self.points, self.threads, self.rate = workers, points, threads, rate
        self.workdir = tempfile.mkdtemp(prefix="streamdash-bench-")
        self.redis: RedisProcess | None = None
        self.children: dict[str, Child] = {}

    def start(self) -> int:
        binary = redis_binary()
        if binary is None:
            raise RuntimeError("redis-server not found on PATH (apt-get install redis-server)")
        try:
            self.redis = RedisProcess(binary, self.workdir)
        except OSError as exc:  # not executable, say
            raise RuntimeError(f"redis-server ({binary}) did not start: {exc}") from None
        self.redis.wait_ready()
        health = free_port()
        self.children["worker"] = Child("worker", bench_child(
            "split_servers", "worker", {"redis_url": self.redis.url, "health_port": health,
                                        "points": self.points, "rate": self.rate}))
        # Ready once it holds the stream and has fetched: its first write (the preloaded
        # records) follows within state.flush_interval.
        wait_ready(f"http://127.0.0.1:{health}", self, "/health/ready")
        port = free_port()
        self.children["web"] = Child("web", bench_child(
            "split_servers", "web", {"redis_url": self.redis.url, "port": port,
                                     "workers": self.workers, "threads": self.threads}))
        wait_ready(f"http://127.0.0.1:{port}", self)
        return port

    def cpu_seconds(self) -> dict[str, float]:
        cpu = {name: child.cpu_seconds() for name, child in self.children.items()}
        cpu["redis"] = self.redis.info()[0] if self.redis else 0.0
        return cpu

    def counters(self) -> dict[str, float]:
        return {"redis_commands": self.redis.info()[1] if self.redis else 0}

    def failure(self) -> str | None:
        parts: list[Any] = [self.redis, *self.children.values()]
        return next((why for p in parts if p is not None and (why := p.failure())), None)

    def warnings(self) -> list[str]:
        return [f"{name}: {line}" for name, child in self.children.items()
                for line in child.warnings()]

    def stop(self) -> None:
        for name in ("web", "worker"):  # the readers first, then the writer, then the store
            if name in self.children:
                self.children[name].stop()
        if self.redis is not None:
            self.redis.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _settings(redis_url: str, **sections: Any) -> Settings:
    return Settings({"state": {"backend": "redis", "url": redis_url},
                     "log": {"level": "WARNING"}, **sections})


def serve_worker(redis_url: str, health_port: int, points: int, rate: float) -> int:
    """The worker child: the simulator at ``rate`` records/s over ``points`` preloaded records,
    its state written to Redis (``streamdash worker``'s loop, until SIGTERM)."""
    from ..logs import configure_logging
    from ..worker import Worker, run_worker

    settings = _settings(redis_url, buffer={"capacity": points}, source={"interval": 1.0},
                         worker={"health_host": "127.0.0.1", "health_port": health_port})
    configure_logging("WARNING", "text")
    worker = Worker(settings, bench_source(rate))
    preload(worker.runtime.buffer, points, rate)
    return run_worker(settings, worker=worker)


def serve_web(redis_url: str, port: int, workers: int, threads: int) -> int:
    """The web child: ``streamdash web``'s server with ``workers`` gunicorn processes of
    ``threads`` threads, serving what the worker writes to Redis (until SIGTERM)."""
    from ..app import create_web_app
    from ..logs import configure_logging
    from ..serving import StreamdashServer, bind_listener

    settings = _settings(redis_url, server={"host": "127.0.0.1", "port": port})
    configure_logging("WARNING", "text")
    listener = bind_listener("127.0.0.1", port, settings.get("server.backlog"))
    return StreamdashServer(settings, listener, factory=create_web_app, workers=workers,
                            options={"threads": threads}).run()


COMMANDS = {"worker": serve_worker, "web": serve_web}

if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] in COMMANDS:
    import json

    sys.exit(COMMANDS[sys.argv[1]](**json.loads(sys.argv[2])))
