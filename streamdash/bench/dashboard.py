"""``streamdash bench dashboard``: what one dashboard tick costs the server, and many viewers.

Part 1 replays the browser's real callback requests against the Flask test client: the buffer
holds ``--points`` records (10,000), the client first receives the whole chart, then each tick
adds 100 (or 1,000) records and replays the tick; it prints the server time and response bytes
of the time-series callback and of every callback of a tick together, next to the cost of
resending the whole figure (what a non-incremental dashboard does).

Part 2 serves the app as ``streamdash run`` does (:mod:`.web_servers`: gunicorn, one worker
process with threads, the default ``server`` connection limits) in a child process on 127.0.0.1
and runs each ``--viewers`` count of simulated browsers (:mod:`.viewers`), each replaying every
tick's callbacks over real HTTP at the ``--refresh`` period with its own client state. It prints
request and tick latency percentiles measured after every viewer has loaded the page, every
failed request by kind (a server that drops, refuses or times out is a figure, never a
traceback), the server's CPU per request and the machine's load; then, per ``--web-workers``
count, the most viewers served: no failed request and request p95 within ``--p95``. More than one
web process (and one with ``--split``) is the split deployment (:mod:`.split_servers`:
redis-server, one worker, ``streamdash web`` with N gunicorn workers): its rows add the CPU of
the worker and of Redis, and what Redis costs per tick answered (commands and CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import Any

from ..connection_limits import ensure_open_files
from ..dashboard.replay import CallbackClient
from .viewers import BROWSER_VALUES, OUTCOMES, TICK_CALLBACKS, Tally, run_viewers
from .web_servers import build_app, check_web_workers, deployment, fake_records


def register(subparsers: Any) -> None:
    """Add ``dashboard`` to the ``streamdash bench`` group."""
    p = subparsers.add_parser(
        "dashboard", help="dashboard tick cost and concurrent viewers",
        description="Replay dashboard callbacks: server time and bytes per tick with a full "
                    "buffer, then N concurrent viewers over real HTTP (p50/p95).")
    p.add_argument("--points", type=int, default=10_000, help="records on screen (default 10000)")
    p.add_argument("--ticks", type=int, default=30, help="ticks replayed per size (default 30)")
    p.add_argument("--runs", type=int, default=3, help="repeat and report best/median (3)")
    p.add_argument("--viewers", type=counts, default=[200], metavar="N[,N…]",
                   help="concurrent viewers, one load test per count (default 200)")
    p.add_argument("--web-workers", type=counts, default=[1], metavar="N[,N…]",
                   help="web processes serving the viewers (default 1; more: streamdash web "
                        "processes reading one worker's state in redis-server)")
    p.add_argument("--split", action="store_true",
                   help="serve every count, 1 included, from the split deployment (worker + "
                        "redis-server + streamdash web), so 1 and N compare like for like")
    p.add_argument("--p95", type=float, default=100.0, metavar="MS",
                   help="request p95 a count of viewers must keep to count as served (100)")
    p.add_argument("--request-timeout", type=float, default=10.0, metavar="S",
                   help="a request unanswered after this counts as timed out (default 10)")
    p.add_argument("--refresh", type=float, default=5.0, help="viewer refresh, s (default 5)")
    p.add_argument("--duration", type=float, default=20.0,
                   help="seconds of measured load after warm-up (default 20)")
    p.add_argument("--threads", type=int, default=8, help="gunicorn threads (default 8)")
    p.add_argument("--rate", type=float, default=20.0,
                   help="records/s the served stream adds during the load test (default 20)")
    p.add_argument("--skip-load", action="store_true", help="only the tick replay")
    p.set_defaults(func=cmd_bench_dashboard)


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
def counts(text: str) -> list[int]:
    """``"600,800"`` → ``[600, 800]`` (positive integers; an argparse type)."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 600,800, got {text!r}")
    return values


def load_test(workers: int, viewers: int, args: argparse.Namespace, app: Any) -> dict[str, Any]:
    """Serve with ``workers`` web processes, run ``viewers`` viewers; one row of figures.

    ``app`` only provides the callback map the request bodies are built from.
    """
    row: dict[str, Any] = {"workers": workers, "viewers": viewers, "load": [os.getloadavg()[0]]}
    server = deployment(workers, args.points, args.threads, args.rate, args.split)
    row["label"] = server.label
    try:
        port = server.start()
        marks: dict[str, tuple[dict[str, float], dict[str, float]]] = {}

        def mark(name: str) -> None:
            marks[name] = (server.cpu_seconds(), server.counters())

        tally = asyncio.run(run_viewers(app, port, viewers, args.refresh, args.duration,
                                        args.request_timeout, mark))
        row.update(note=server.failure(), warned=server.warnings())
    except RuntimeError as exc:  # the server did not start: a figure of its own
        row.update(note=str(exc), warned=[], tally=Tally(), cpu={}, counters={})
        return row
    finally:
        server.stop()
        row["load"].append(os.getloadavg()[0])
    (cpu0, n0), (cpu1, n1) = marks["start"], marks["end"]
    row.update(tally=tally, cpu={part: cpu1[part] - cpu0[part] for part in cpu1},
               counters={name: n1[name] - n0[name] for name in n1})
    return row


def figures(row: dict[str, Any], duration: float) -> dict[str, Any]:
    """Latency percentiles (ms), rates and CPU of one row."""
    tally: Tally = row["tally"]
    reqs = sorted(1000 * t for t in tally.requests)
    ticks = sorted(1000 * t for t in tally.ticks)
    answered = len(reqs) or float("nan")
    whole_ticks = len(ticks) or float("nan")
    per_tick = {}
    if "redis_commands" in row.get("counters", {}):  # what Redis costs per tick answered
        per_tick = {"redis_commands": row["counters"]["redis_commands"] / whole_ticks,
                    "redis_cpu_ms": 1000 * row["cpu"].get("redis", 0.0) / whole_ticks}
    return {"rps": len(reqs) / duration, "req_p50": _pct(reqs, 50), "req_p95": _pct(reqs, 95),
            "tick_p95": _pct(ticks, 95), "failed": tally.failed, "ticks": len(ticks),
            "cpu": {part: (1000 * s / answered, 100 * s / duration)
                    for part, s in row["cpu"].items()}, "per_tick": per_tick}


def served(rows: list[dict[str, Any]], args: argparse.Namespace) -> bool:
    """A count of viewers is served when no request failed in any run and the median run's
    request p95 is within ``--p95``."""
    stats = [figures(r, args.duration) for r in rows]
    return all(s["failed"] == 0 and not r["note"] for s, r in zip(stats, rows, strict=True)) \
        and statistics.median(s["req_p95"] for s in stats) <= args.p95


def print_row(row: dict[str, Any], args: argparse.Namespace) -> None:
    f = figures(row, args.duration)
    tally: Tally = row["tally"]
    kinds = ", ".join(f"{k} {tally.outcomes[k]}" for k in OUTCOMES[1:] if tally.outcomes[k])
    cpu = "  ".join(f"{part} {ms:.2f} ms/req ({share:.0f} % of a core)"
                    for part, (ms, share) in f["cpu"].items())
    redis = f["per_tick"]
    cost = (f"  |  redis per tick: {redis['redis_commands']:.1f} commands, "
            f"{redis['redis_cpu_ms']:.3f} ms CPU ({f['ticks']} ticks)") if redis else ""
    print(f"  {row['label']:>12}  {row['viewers']:>7,}  {f['rps']:>5.0f}/s  "
          f"failed {f['failed']}{f' ({kinds})' if kinds else ''}  reconnects "
          f"{tally.reconnects['asked']}+{tally.reconnects['stale']}  "
          f"request p50 {f['req_p50']:.1f} ms p95 {f['req_p95']:.1f} ms  tick p95 "
          f"{f['tick_p95']:.1f} ms  |  {cpu or 'CPU n/a'}{cost}  |  load {row['load'][0]:.1f}"
          f"→{row['load'][-1]:.1f}" + (f"  |  {row['note']}" if row["note"] else "")
          + (f"  |  server warned {len(row['warned'])}x, last: "
             f"{row['warned'][-1].partition('WARNING')[2][:220]}" if row["warned"] else ""))


def print_load(args: argparse.Namespace) -> None:
    ensure_open_files(max(args.viewers), key="--viewers")  # this process holds one per viewer
    print(f"Viewers over real HTTP: {args.refresh:g} s refresh, {args.points:,} points, stream "
          f"{args.rate:g} records/s, {args.duration:g} s measured after warm-up, "
          f"{args.threads} threads a web process, request timeout {args.request_timeout:g} s, "
          f"{args.runs} run(s) each; 'served': no failed request and request p95 ≤ "
          f"{args.p95:g} ms (median run); machine: {os.cpu_count()} cores")
    print("           web  viewers  answered   (each request: ok, or one of "
          f"{', '.join(OUTCOMES[1:])})")
    app = build_app(10)
    for workers in args.web_workers:
        best, first_short = 0, None
        for viewers in args.viewers:
            rows = [load_test(workers, viewers, args, app) for _ in range(args.runs)]
            for row in rows:
                print_row(row, args)
            if served(rows, args):
                best = max(best, viewers)
            elif first_short is None:
                first_short = viewers
        split = " reading redis-server" if workers > 1 or args.split else ""
        print(f"  → {workers} web process(es){split}: served {best:,} viewers at most"
              + (f"; not {first_short:,}" if first_short else "") + " (of the counts tried)")


def cmd_bench_dashboard(args: argparse.Namespace) -> int:
    """Run both parts and print their figures (deployments this machine cannot start — no
    redis-server for a split one — are refused first, in one line)."""
    if not args.skip_load:
        check_web_workers(args.web_workers, args.split)
    print_replay(args)
    if not args.skip_load:
        print_load(args)
    return 0


def _pct(ordered: list[float], pct: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]
