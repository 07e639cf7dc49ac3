"""``streamdash bench hostile``: issue 13's attacks 1–3 against loopback servers, with memory.

Each case runs for ``--seconds`` (default 60) in a fresh child process (so one case's peak
does not hide the next one's), sampling the process's resident memory every 0.1 s, and prints
its peak RSS and its growth (RSS at the end, after a garbage collection, minus RSS once the
case was set up):

1. **invalid flood** — an upstream answering every poll with a 9.9 MB body of ~900k invalid
   objects (under the http source's ``max_bytes``), polled every 0.1 s with the default queue
   bounds. Target: peak < 500 MiB. Also prints the consumer's cost per record for invalid
   and for valid records (same schema, batches of ``queue.max_batch_records``) and their
   ratio (the bound: rejecting at most 2× the cost of accepting).
2. **cache keys** — the dashboard served over real HTTP, POSTed callback requests each naming
   a different value field: ~2 MB names (refused: 413) and ~500 kB names (under the body
   cap, so they reach the callbacks). Target: growth < 50 MiB.
3. **Retry-After: inf** — an upstream answering 429 ``Retry-After: inf`` once, then data; the
   source's ``max_retry_after`` is set to a third of the run so polling must resume within
   it. Prints the health status seen during the pause and when polling resumed.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CASES = {1: "invalid flood", 2: "cache keys", 3: "Retry-After: inf"}
TARGETS = {1: ("peak_mib", 500.0), 2: ("growth_mib", 50.0)}
#: Objects in the flood body: 9.9 MB of ``{"id":"x"}`` (the issue's 900k invalid objects).
FLOOD_OBJECTS = 900_000


def rss_mib() -> float:
    """Current resident set size of this process (MiB), from /proc (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import resource
    return pages * resource.getpagesize() / (1024 * 1024)


class MemorySampler:
    """Samples :func:`rss_mib` every ``period`` s on its own thread; ``peak`` is the highest."""

    def __init__(self, period: float = 0.1):
        self.period = period
        self.peak = rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.peak = max(self.peak, rss_mib())

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(5)
        self.peak = max(self.peak, rss_mib())


class Upstream:
    """A loopback HTTP server whose every GET is answered by ``reply() -> (status, headers,
    body)``; a context manager."""

    def __init__(self, reply: Callable[[], tuple[int, dict[str, str], bytes]]):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                status, headers, body = reply()
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/feed"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})

    def __enter__(self) -> Upstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _http_settings(url: str, **source: Any) -> Any:
    from ..config import Settings
    return Settings({"source": {"type": "http", "url": url, "records_path": "items",
                                "interval": 0.1, "fields": {"id": "id", "value": "v"}, **source},
                     "schema": {"fields": {"id": "int", "value": {"type": "float",
                                                                  "nullable": True}}},
                     "transforms": []})


def _finish(sampler: MemorySampler, base: float, extra: dict[str, Any]) -> dict[str, Any]:
    gc.collect()
    end = rss_mib()
    return {"peak_mib": round(sampler.peak, 1), "base_mib": round(base, 1),
            "growth_mib": round(end - base, 1), **extra}


def case_invalid_flood(seconds: float) -> dict[str, Any]:
    """Case 1 (see the module docstring)."""
    from ..runtime import Runtime
    body = b'{"items": [' + b",".join([b'{"id":"x"}'] * FLOOD_OBJECTS) + b"]}"
    with Upstream(lambda: (200, {"Content-Type": "application/json"}, body)) as up:
        rt = Runtime(_http_settings(up.url))
        gc.collect()
        base = rss_mib()
        fills, seen = [], set()
        with MemorySampler() as sampler:
            rt.start()
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                time.sleep(0.5)
                fills.append(rt.queue.fill())
                seen.add(rt.health()["status"])
            rt.stop(timeout=1)
        counts = rt.counts()
        ratio = reject_accept_ratio(rt)  # after the run: its counts stay the flood's own
    return _finish(sampler, base, {
        "body_mb": round(len(body) / 1e6, 1), "records_in": counts["in"],
        "rejected": counts["rejected"], "dropped": counts["dropped"],
        "queue_fill_max": round(max(fills, default=0.0), 2), "statuses_seen": sorted(seen),
        **ratio})


def reject_accept_ratio(rt: Any, n: int | None = None, rounds: int = 3) -> dict[str, Any]:
    """The consumer's cost per record (µs) for valid and for invalid records, best of
    ``rounds``, in batches of ``queue.max_batch_records``, and their ratio."""
    from ..models import Batch
    n = n or rt.settings.get("queue.max_batch_records")

    def cost(make: Callable[[], list[dict[str, Any]]]) -> float:
        best = float("inf")
        for _ in range(rounds):
            records = make()
            batch = Batch(records, time.time(), "bench", time.monotonic())
            began = time.perf_counter()
            rt.consumer.handle(batch)
            best = min(best, time.perf_counter() - began)
        return best / n * 1e6

    valid = cost(lambda: [{"id": i, "value": float(i)} for i in range(n)])
    invalid = cost(lambda: [{"id": "x", "value": "y"} for _ in range(n)])
    return {"accept_us": round(valid, 2), "reject_us": round(invalid, 2),
            "reject_accept_ratio": round(invalid / valid, 2)}


def case_cache_keys(seconds: float) -> dict[str, Any]:
    """Case 2 (see the module docstring)."""
    import logging

    import requests
    from werkzeug.serving import make_server

    from ..app import create_app
    from ..config import Settings
    from ..dashboard.replay import UPDATE_URL, callback_body
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = create_app(Settings({"source": {"type": "simulated", "interval": 0.5}}))
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}{UPDATE_URL}"
    values = {"tick.n_intervals": 1, "refresh-picker.value": 5, "key-field.value": ""}
    session = requests.Session()
    statuses: dict[int, int] = {}

    def post(name: str) -> None:
        for output in ("client-state.data", "chart-series.figure"):
            body = callback_body(app, output, {**values, "value-field.value": name})
            resp = session.post(url, data=json.dumps(body),
                                headers={"Content-Type": "application/json"})
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
    post("value")  # warm up: the first real tick builds what every tick shares
    gc.collect()
    base = rss_mib()
    sent = 0
    with MemorySampler() as sampler:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            size = 2_000_000 if sent % 2 else 500_000
            post(f"{sent:08d}" + "x" * size)
            sent += 1
    server.shutdown()
    app.runtime.stop(timeout=1)
    return _finish(sampler, base, {"requests": 2 * sent,
                                   "statuses": {str(k): v for k, v in sorted(statuses.items())},
                                   "cache_entries": len(app.live._cache)})


def case_retry_after(seconds: float) -> dict[str, Any]:
    """Case 3 (see the module docstring)."""
    from ..runtime import Runtime
    answers = iter([(429, {"Retry-After": "inf"}, b"")])
    data = b'{"items": [{"id": 1, "v": 1.5}]}'
    with Upstream(lambda: next(answers, (200, {"Content-Type": "application/json"}, data))) as up:
        cap = max(1.0, seconds / 3)
        rt = Runtime(_http_settings(up.url, max_retry_after=cap, max_time=0.5))
        gc.collect()
        base = rss_mib()
        seen: set[str] = set()
        resumed_after = None
        with MemorySampler() as sampler:
            began = time.monotonic()
            rt.start()
            while time.monotonic() - began < seconds:
                time.sleep(0.2)
                if rt.counts()["in"] and resumed_after is None:
                    resumed_after = round(time.monotonic() - began, 1)
                if resumed_after is None:
                    seen.add(rt.health()["status"])
            status = rt.health()["status"]
            skipped = rt.source.stats["skipped_rate_limited"]
            rt.stop(timeout=1)
    return _finish(sampler, base, {"max_retry_after": cap, "status_while_paused": sorted(seen),
                                   "skipped_polls": skipped, "resumed_after_s": resumed_after,
                                   "status_at_end": status, "records_in": rt.counts()["in"]})


RUNNERS = {1: case_invalid_flood, 2: case_cache_keys, 3: case_retry_after}


def run_case(case: int, seconds: float) -> dict[str, Any]:
    """Run one case in a fresh child process; its figures as a dict."""
    out = subprocess.run([sys.executable, "-m", "streamdash.bench.hostile", str(case),
                          str(seconds)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(results: dict[int, dict[str, Any]], seconds: float) -> str:
    """The figures as text: one block per case, with its target when it has one."""
    lines = [f"streamdash bench hostile: issue 13 cases 1-3, {seconds:g} s each, one child "
             "process per case (RSS in MiB)"]
    for case, res in results.items():
        lines.append(f"\ncase {case}: {CASES[case]}")
        if "error" in res:
            lines.append(f"  FAILED: {res['error']}")
            continue
        lines.append(f"  peak RSS {res['peak_mib']}  growth {res['growth_mib']} "
                     f"(from {res['base_mib']} once set up)")
        target = TARGETS.get(case)
        if target:
            key, limit = target
            verdict = "met" if res[key] < limit else "MISSED"
            lines.append(f"  target {key.split('_')[0]} < {limit:g} MiB: {verdict}")
        lines.append("  " + ", ".join(f"{k} {v}" for k, v in res.items()
                                      if k not in ("peak_mib", "growth_mib", "base_mib")))
    return "\n".join(lines)


def cmd_bench_hostile(args: argparse.Namespace) -> int:
    results = {case: run_case(case, args.seconds) for case in args.cases or sorted(CASES)}
    print(json.dumps(results) if args.json else report(results, args.seconds))
    missed = any("error" in r or (c in TARGETS and r[TARGETS[c][0]] >= TARGETS[c][1])
                 for c, r in results.items())
    return 1 if missed else 0


def register(group: Any) -> None:
    """Add ``hostile`` to the ``streamdash bench`` group."""
    p = group.add_parser("hostile", help="issue 13's attacks 1-3 on loopback: peak RSS, growth",
                         description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60.0, metavar="S",
                   help="how long each case runs (default 60)")
    p.add_argument("--case", dest="cases", type=int, action="append", choices=sorted(CASES),
                   help="run only this case (repeatable; default: all three)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=cmd_bench_hostile, cases=None)


if __name__ == "__main__":  # one case, run as a child process by run_case
    if len(sys.argv) != 3:
        sys.exit("usage: python -m streamdash.bench.hostile CASE SECONDS")
    from ..gc_tuning import tune_for_streaming
    tune_for_streaming()  # as `streamdash run` does: the process measured is the one deployed
    print(json.dumps(RUNNERS[int(sys.argv[1])](float(sys.argv[2]))))
