"""``streamdash bench alerts``: what data-quality monitoring costs the pipeline.

Measures (1) the batch listener's cost per record, (2) one evaluation of the rules, and
(3) a running pipeline's throughput and latency while alerts keep firing to a webhook receiver
on 127.0.0.1 that answers 200, answers 500, or hangs — the receiver must make no difference.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import time
from typing import Any

from ..config import Settings
from ..metrics import Metrics
from ..quality.monitor import QualityMonitor
from ..quality.rule_params import parse_rules
from ..quality.window import BatchStats
from ..sources.simulator import FAULTS, SimulatedSource

#: A webhook receiver run as a child process, so its CPU does not compete with the pipeline
#: for the GIL (a real receiver lives elsewhere). Prints its port, then serves until killed.
_RECEIVER = """
import sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
mode = sys.argv[1]
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if mode == "hang":
            threading.Event().wait(3600)
        self.send_response(500 if mode == "fail" else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
s.daemon_threads = True
print(s.server_port, flush=True)
s.serve_forever()
"""


class _Receiver:
    """A local webhook receiver (child process) answering ``ok`` (200), ``fail`` (500) or
    ``hang``."""

    def __init__(self, mode: str):
        self.proc = subprocess.Popen([sys.executable, "-c", _RECEIVER, mode],
                                     stdout=subprocess.PIPE, text=True)
        port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{port}/hook"

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self.proc.stdout.close()


def bench_listener(records: int = 200_000, batch: int = 1000) -> dict[str, float]:
    """Seconds per record of the batch listener (null counts and newest event time)."""
    source = SimulatedSource(seed=1, batch_size=batch, null_rate=0.05)
    batches = [source.fetch() for _ in range(max(1, records // batch))]
    stats = BatchStats(time_field="ts")
    began = time.perf_counter()
    for b in batches:
        stats.observe(b)
    took = time.perf_counter() - began
    n = sum(len(b) for b in batches)
    return {"records": n, "us_per_record": took / n * 1e6, "records_per_s": n / took}


def bench_evaluate(rules: int = 50, evaluations: int = 2000) -> dict[str, float]:
    """Microseconds per evaluation with the default rules plus ``rules`` per-field ones."""
    extra = [{"name": f"f{i}", "metric": f"null_rate.f{i}", "op": ">", "threshold": 0.1}
             for i in range(rules)]
    parsed = parse_rules(extra, fetch_interval=1.0)
    metrics = Metrics()
    clock = [1_700_000_000.0]
    monitor = QualityMonitor(parsed, metrics=metrics, clock=lambda: clock[0], window=60,
                             baseline=600)
    for _ in range(700):  # a full window and baseline of samples
        clock[0] += 1
        metrics.add_many({"records_in": 100, "records_accepted": 100, "fetches": 1})
        monitor.evaluate()
    began = time.perf_counter()
    for _ in range(evaluations):
        clock[0] += 1
        metrics.add_many({"records_in": 100, "records_accepted": 100, "fetches": 1})
        monitor.evaluate()
    took = time.perf_counter() - began
    return {"rules": len(parsed), "us_per_evaluation": took / evaluations * 1e6}


def bench_receiver(mode: str, seconds: float, batch_size: int, interval: float) -> dict[str, Any]:
    """Run a pipeline for ``seconds`` while an always-firing alert notifies a ``mode`` receiver."""
    from ..runtime import Runtime  # the runtime imports quality: import it only when run

    receiver = _Receiver(mode) if mode != "none" else None
    alerts: dict[str, Any] = {
        "interval": 0.05, "window": 5, "default_rules": False,
        "rules": [{"name": "always", "metric": "records", "op": ">=", "threshold": 0}]}
    if receiver is not None:
        alerts["webhook"] = {"urls": [receiver.url], "timeout": 1, "retries": 2,
                             "backoff": 0.05, "backoff_max": 0.2, "repeat_interval": 0.05}
    settings = Settings({"source.interval": interval, "queue.maxsize": 1000,
                         "buffer.capacity": 100_000, "alerts": alerts})
    source = SimulatedSource(seed=5, batch_size=batch_size, spread=interval,
                             **{fault: 0.0 for fault in FAULTS})
    rt = Runtime(settings, source)
    try:
        rt.start()
        time.sleep(seconds)
        snap = rt.metrics.snapshot()
    finally:
        stop_began = time.monotonic()
        rt.stop(timeout=5)
        stop_took = time.monotonic() - stop_began
        if receiver is not None:
            receiver.close()
    c, lat = snap["counters"], snap["histograms"].get("end_to_end_latency_seconds", {})
    return {"receiver": mode, "records_per_s": c.get("records_accepted", 0) / seconds,
            "fetches": int(c.get("fetches", 0)), "expected_fetches": int(seconds / interval) + 1,
            "latency_p50_ms": (lat.get("p50") or 0) * 1000,
            "latency_p99_ms": (lat.get("p99") or 0) * 1000,
            "producer_blocked_s": c.get("producer_blocked_seconds", 0),
            "notifications_sent": int(c.get("alert_notifications_sent", 0)),
            "notification_errors": int(c.get("alert_notification_errors", 0)),
            "stop_seconds": stop_took}


def run(seconds: float = 5.0, batch_size: int = 1000, interval: float = 0.1,
        repeats: int = 1) -> dict[str, Any]:
    """Every measurement; receiver runs are repeated and the median run is kept."""
    out: dict[str, Any] = {"listener": bench_listener(), "evaluate": bench_evaluate(),
                           "receivers": []}
    for mode in ("none", "ok", "fail", "hang"):
        runs = [bench_receiver(mode, seconds, batch_size, interval) for _ in range(repeats)]
        runs.sort(key=lambda r: r["records_per_s"])
        out["receivers"].append(runs[len(runs) // 2])
    base = out["receivers"][0]["records_per_s"]
    for r in out["receivers"]:
        r["vs_no_webhook"] = r["records_per_s"] / base if base else None
    out["spread"] = statistics.pstdev(r["records_per_s"] for r in out["receivers"]) / base \
        if base else None
    return out


def render(r: dict[str, Any]) -> str:
    """The figures as a short report."""
    li, ev = r["listener"], r["evaluate"]
    lines = [f"batch listener     {li['us_per_record']:.2f} µs/record "
             f"({li['records_per_s']:,.0f} records/s, {li['records']:,} records)",
             f"rule evaluation    {ev['us_per_evaluation']:.0f} µs per evaluation "
             f"({ev['rules']} rules, 60 s window, 10 min baseline)",
             "receiver  records/s   vs none  fetches/expected  p50 ms  p99 ms  sent  errors"
             "  stop s"]
    for x in r["receivers"]:
        lines.append(f"{x['receiver']:<8} {x['records_per_s']:>10,.0f}  {x['vs_no_webhook']:>7.3f}"
                     f"  {x['fetches']:>7}/{x['expected_fetches']:<8}  {x['latency_p50_ms']:>6.1f}"
                     f"  {x['latency_p99_ms']:>6.1f}  {x['notifications_sent']:>4}"
                     f"  {x['notification_errors']:>6}  {x['stop_seconds']:>6.2f}")
    return "\n".join(lines)


def cmd_bench_alerts(args: argparse.Namespace) -> int:
    """``streamdash bench alerts``."""
    # The failing receivers make the notifier log every attempt: keep the report readable.
    logging.getLogger("streamdash.quality").setLevel(logging.CRITICAL)
    result = run(args.seconds, args.batch_size, args.interval, args.repeats)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


def register(group: Any) -> None:
    """Add ``alerts`` to the ``streamdash bench`` group."""
    p = group.add_parser("alerts", help="cost of quality monitoring; webhooks vs throughput",
                         description=__doc__.split("\n\n")[1])
    p.add_argument("--seconds", type=float, default=5.0, help="run time per receiver (default 5)")
    p.add_argument("--batch-size", type=int, default=1000, help="records per fetch (default 1000)")
    p.add_argument("--interval", type=float, default=0.1, help="seconds between fetches")
    p.add_argument("--repeats", type=int, default=1, help="runs per receiver; the median is kept")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=cmd_bench_alerts)
