"""``streamdash bench dashboard``: what one dashboard tick costs the server, and many viewers.

Part 1 replays the browser's real callback requests against the Flask test client: the buffer
holds ``--points`` records (10,000), the client first receives the whole chart, then each tick
adds 100 (or 1,000) records and replays the tick; it prints the server time and response bytes
of the time-series callback and of every callback of a tick together, next to the cost of
resending the whole figure (what a non-incremental dashboard does).

Part 2 serves the app with gunicorn (one worker, gthread, like the Procfile) in a subprocess on
127.0.0.1 and runs ``--viewers`` simulated browsers, each replaying every tick's callbacks over
real HTTP at the ``--refresh`` period with its own client state; it prints request and tick
latency percentiles measured after every viewer has loaded the page.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

from ..config import Settings
from ..dashboard.replay import UPDATE_URL, CallbackClient, callback_body, decode
from ..sources.simulator import SimulatedSource
from ..testing import ListSource

#: Outputs identifying the callbacks a browser sends on every tick, with the store holding
#: that callback's client state (``None``: stateless).
TICK_CALLBACKS = (("series-state.data", "series-state.data"),
                  ("client-state.data", "client-state.data"))
BROWSER_VALUES = {"value-field.value": "temperature", "key-field.value": "sensor",
                  "refresh-picker.value": 5}


def register(subparsers: Any) -> None:
    """Add ``dashboard`` to the ``streamdash bench`` group."""
    p = subparsers.add_parser(
        "dashboard", help="dashboard tick cost and concurrent viewers",
        description="Replay dashboard callbacks: server time and bytes per tick with a full "
                    "buffer, then N concurrent viewers over real HTTP (p50/p95).")
    p.add_argument("--points", type=int, default=10_000, help="records on screen (default 10000)")
    p.add_argument("--ticks", type=int, default=30, help="ticks replayed per size (default 30)")
    p.add_argument("--runs", type=int, default=3, help="repeat and report best/median (3)")
    p.add_argument("--viewers", type=int, default=200, help="concurrent viewers (default 200)")
    p.add_argument("--refresh", type=float, default=5.0, help="viewer refresh, s (default 5)")
    p.add_argument("--duration", type=float, default=20.0,
                   help="seconds of measured load after warm-up (default 20)")
    p.add_argument("--threads", type=int, default=8, help="gunicorn threads (default 8)")
    p.add_argument("--rate", type=float, default=20.0,
                   help="records/s the served stream adds during the load test (default 20)")
    p.add_argument("--skip-load", action="store_true", help="only the tick replay")
    p.set_defaults(func=cmd_bench_dashboard)


# -- data ------------------------------------------------------------------------------------------
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


# -- part 1: replayed ticks ------------------------------------------------------------------------
class ServerTimer:
    """WSGI middleware timing the server's own work per request (the test client's request
    building and response parsing are client costs, not server time)."""

    def __init__(self, wsgi_app: Any):
        self.wsgi_app = wsgi_app
        self.last = 0.0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        began = time.perf_counter()
        body = b"".join(self.wsgi_app(environ, start_response))
        self.last = time.perf_counter() - began
        return [body]


def replay_ticks(points: int, new_per_tick: int, ticks: int) -> dict[str, Any]:
    """Replay ``ticks`` ticks of ``new_per_tick`` new records; times (ms) and bytes per tick."""
    app = build_app(points)
    timer = app.server.wsgi_app = ServerTimer(app.server.wsgi_app)
    post = app.server.test_client().post
    clients = {out: CallbackClient(app, out, post) for out, _ in TICK_CALLBACKS}
    values: dict[str, Any] = {**BROWSER_VALUES, "tick.n_intervals": 0}
    reset_ms, reset_bytes = _one_tick(clients, values, timer)["series-state.data"]
    series, total = [], []
    t = time.time()
    for i in range(ticks):
        app.runtime.buffer.extend(fake_records(new_per_tick, seed=i + 2, start=t + i))
        values["tick.n_intervals"] = i + 1
        costs = _one_tick(clients, values, timer)
        series.append(costs["series-state.data"])
        total.append((sum(c[0] for c in costs.values()), sum(c[1] for c in costs.values())))
    return {"reset": (reset_ms, reset_bytes), "series": series, "total": total}


def _one_tick(clients: dict[str, CallbackClient], values: dict[str, Any],
              timer: ServerTimer) -> dict[str, tuple[float, int]]:
    costs = {}
    for out, store in TICK_CALLBACKS:
        status, body, result = clients[out].call(values)
        costs[out] = (timer.last * 1000, len(body))
        if store and store in result:
            values[store] = result[store]
    return costs


def print_replay(args: argparse.Namespace) -> None:
    print(f"Tick replay (Flask test client, {args.points:,} points on screen, "
          f"{args.ticks} ticks x {args.runs} runs; time = server time inside the WSGI app)")
    for new in (100, 1000):
        runs = [replay_ticks(args.points, new, args.ticks) for _ in range(args.runs)]
        for label, part in (("time series (extendData)", "series"),
                            ("whole tick (2 callbacks)", "total")):
            ms = [c[0] for r in runs for c in r[part]]
            kb = statistics.median(c[1] for r in runs for c in r[part]) / 1024
            medians = ", ".join(f"{statistics.median(c[0] for c in r[part]):.2f}" for r in runs)
            print(f"  {new:>5} new points/tick  {label}: best {min(ms):.2f} ms, median "
                  f"{statistics.median(ms):.2f} ms (run medians {medians}), {kb:.1f} KB")
    resets = [r["reset"] for r in runs]
    print(f"  whole figure (first load / reset): best {min(r[0] for r in resets):.1f} ms, "
          f"{resets[0][1] / 1024:.0f} KB")


# -- part 2: concurrent viewers --------------------------------------------------------------------
def serve(port: int, points: int, threads: int, rate: float) -> None:
    """Run the app under gunicorn (1 worker, gthread) with ``points`` records preloaded."""
    from gunicorn.app.base import BaseApplication

    from ..app import create_app

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in {"bind": f"127.0.0.1:{port}", "workers": 1, "threads": threads,
                               "worker_class": "gthread", "loglevel": "warning",
                               "keepalive": 30, "backlog": 2048}.items():
                self.cfg.set(key, value)

        def load(self) -> Any:  # runs in the worker: the runtime's threads live there
            batch = max(1, int(rate))
            source = SimulatedSource(seed=5, batch_size=batch, spread=1.0, null_rate=0,
                                     duplicate_rate=0, late_rate=0, invalid_rate=0,
                                     outlier_rate=0)
            app = create_app(Settings({"buffer.capacity": points, "source.interval": 1.0,
                                       "log.level": "WARNING"}), source, start=False)
            app.runtime.buffer.extend(fake_records(points, start=time.time() - points / rate,
                                                   spread=1 / rate))
            app.runtime.start()
            return app.server

    Server().run()


class Viewer:
    """One simulated browser on its own keep-alive HTTP connection (asyncio, so hundreds of
    viewers cost the load generator little and do not distort the latencies it measures).

    Every ``refresh`` s it sends the tick's callbacks in turn, keeping its client state like
    the browser's ``dcc.Store``. ``window`` (shared) says when to measure: ``{"from", "to"}`` in
    the event loop's clock; the viewer stops at ``to``. ``loaded`` is set after its first tick
    (the page load, which receives the whole figure).
    """

    def __init__(self, app: Any, port: int, refresh: float, window: dict[str, float],
                 results: list[tuple[str, float]]):
        self.app, self.port, self.refresh, self.window = app, port, refresh, window
        self.results = results
        self.values: dict[str, Any] = {**BROWSER_VALUES, "tick.n_intervals": 0}
        self.loaded = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            # Independent viewers have independent phases: each keeps its own slot in the
            # refresh period (a slot missed while the server was busy is skipped, not
            # stacked), so a slow start cannot synchronise every viewer into one burst.
            next_tick = loop.time() + random.uniform(0, self.refresh)
            while True:
                await asyncio.sleep(max(0.0, next_tick - loop.time()))
                began = loop.time()
                if began >= self.window["to"]:
                    return
                await self.tick(reader, writer, measured=began >= self.window["from"])
                if began >= self.window["from"]:
                    self.results.append(("tick", loop.time() - began))
                self.loaded.set()
                self.values["tick.n_intervals"] += 1
                next_tick += self.refresh
                while next_tick < loop.time():
                    next_tick += self.refresh
        finally:
            writer.close()

    async def tick(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   measured: bool) -> None:
        for out, store in TICK_CALLBACKS:
            body = json.dumps(callback_body(self.app, out, self.values)).encode()
            t0 = time.perf_counter()
            status, data = await http_post(reader, writer, UPDATE_URL, body)
            if measured:
                self.results.append(("request", time.perf_counter() - t0))
            if status not in (200, 204):
                raise RuntimeError(f"{out}: HTTP {status}: {data[:200]!r}")
            if status == 200 and store:
                self.values[store] = decode(data).get(store, self.values.get(store))


async def http_post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str,
                    body: bytes) -> tuple[int, bytes]:
    """One HTTP/1.1 keep-alive POST of a JSON body; returns (status, body)."""
    writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                 f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:]
                                                            if ln)}
    length = int(headers.get("content-length", 0))
    return status, await reader.readexactly(length) if length else b""


async def run_viewers(app: Any, port: int, args: argparse.Namespace,
                      on_measure: Any) -> list[tuple[str, float]]:
    """Run every viewer; measure ``duration`` s starting one refresh after the last page load."""
    loop = asyncio.get_running_loop()
    window = {"from": float("inf"), "to": float("inf")}
    results: list[tuple[str, float]] = []
    viewers = [Viewer(app, port, args.refresh, window, results) for _ in range(args.viewers)]
    tasks = [asyncio.create_task(v.run()) for v in viewers]
    loaded = asyncio.gather(*(v.loaded.wait() for v in viewers))
    done, _ = await asyncio.wait([loaded, *tasks], return_when=asyncio.FIRST_COMPLETED)
    if loaded not in done:  # a viewer failed before every page had loaded
        loaded.cancel()
        await asyncio.gather(*tasks)
    window["from"] = loop.time() + args.refresh
    window["to"] = window["from"] + args.duration
    await asyncio.sleep(args.refresh)
    on_measure("start")
    await asyncio.gather(*tasks)
    on_measure("end")
    return results


def load_test(args: argparse.Namespace) -> dict[str, float]:
    """Start the server, load every viewer's page, then measure ``duration`` seconds."""
    port = _free_port()
    path = os.pathsep.join(filter(None, [_repo_root(), os.environ.get("PYTHONPATH")]))
    proc = subprocess.Popen([sys.executable, "-m", "streamdash.bench.dashboard", "serve",
                             str(port), str(args.points), str(args.threads), str(args.rate)],
                            env={**os.environ, "PYTHONPATH": path})
    cpu: dict[str, float] = {}
    try:
        _wait_ready(f"http://127.0.0.1:{port}", proc)
        app = build_app(10)  # only for the callback map the request bodies come from
        results = asyncio.run(run_viewers(
            app, port, args, lambda mark: cpu.__setitem__(mark, _cpu_seconds(proc.pid))))
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    reqs = sorted(1000 * t for kind, t in results if kind == "request")
    ticks = sorted(1000 * t for kind, t in results if kind == "tick")
    return {"requests": len(reqs), "ticks": len(ticks), "req_p50": _pct(reqs, 50),
            "req_p95": _pct(reqs, 95), "tick_p50": _pct(ticks, 50), "tick_p95": _pct(ticks, 95),
            "rps": len(reqs) / args.duration,
            "cpu_ms": 1000 * (cpu["end"] - cpu["start"]) / len(reqs) if reqs else float("nan")}


def print_load(args: argparse.Namespace) -> None:
    print(f"Load test: {args.viewers} viewers, {args.refresh:g} s refresh, gunicorn 1 worker x "
          f"{args.threads} threads on 127.0.0.1, {args.points:,} points, stream "
          f"{args.rate:g} records/s, {args.duration:g} s measured after warm-up")
    runs = [load_test(args) for _ in range(args.runs)]
    for i, r in enumerate(runs, 1):
        print(f"  run {i}: {r['requests']} requests ({r['rps']:.0f}/s)  request p50 "
              f"{r['req_p50']:.1f} ms p95 {r['req_p95']:.1f} ms  |  tick (2 callbacks) p50 "
              f"{r['tick_p50']:.1f} ms p95 {r['tick_p95']:.1f} ms  |  server CPU "
              f"{r['cpu_ms']:.2f} ms/request")
    p95 = [r["req_p95"] for r in runs]
    print(f"  request p95: best {min(p95):.1f} ms, median {statistics.median(p95):.1f} ms")


def cmd_bench_dashboard(args: argparse.Namespace) -> int:
    """Run both parts and print their figures."""
    print_replay(args)
    if not args.skip_load:
        print_load(args)
    return 0


def _pct(ordered: list[float], pct: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def _cpu_seconds(pid: int) -> float:
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _wait_ready(base: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"benchmark server exited with status {proc.returncode}")
        try:
            if requests.get(base + "/_dash-layout", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"benchmark server at {base} did not start within {timeout:g} s")


if __name__ == "__main__" and len(sys.argv) == 6 and sys.argv[1] == "serve":
    serve(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
