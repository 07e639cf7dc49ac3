"""``streamdash bench pipeline``: the configured pipeline over the sensor-stream workload.

Runs the real processor (built by :func:`~streamdash.pipeline.build_processor` from settings,
exactly as the runtime does) through a real :class:`~streamdash.pipeline.workers.Consumer`
(ring buffer, quarantine, metrics, event bus with the runtime's recent-window and late stores)
over a JSON Lines file in batches of 1,000 lines, then prints records/s, per-batch latency
(JSON decoding + processing) p50/p99, peak RSS and the totals, and checks the totals against
``../shared/bench/CONTRACT.md`` (exit status 1 when they differ). ``--reference`` also runs a
hand-written plain loop of the contract semantics in a child process, for the ratio.

The default settings are the contract's pipeline: schema, dedup, °F→°C, late (30 s), 10 s
tumbling windows per sensor (:data:`BENCH_SETTINGS`); ``--config FILE`` replaces them.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import queue
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from itertools import islice
from typing import Any

#: The contract pipeline, as a user would write it in YAML (see docs/benchmarks.md).
BENCH_SETTINGS: dict[str, Any] = {
    "schema": {
        "key": "id",
        "event_time": "ts",
        "fields": {
            "id": "str",
            "sensor": "str",
            "ts": "timestamp",
            "value": {"type": "float", "nullable": True},
            "unit": {"type": "str", "allowed": ["C", "F"]},
        },
    },
    "transforms": [
        {"dedup": {"key": "id"}},
        {"convert": {"field": "value", "unit_field": "unit", "to": "C"}},
        {"late": {"lateness": 30, "advance": "record"}},  # CONTRACT.md: per record
        {"window": {"kind": "tumbling", "size": 10, "key": "sensor", "field": "value"}},
    ],
}

#: Reference totals of CONTRACT.md for N = 1,000,000.
CONTRACT_TOTALS = {"total": 1_000_000, "invalid": 5_134, "dup": 9_993, "null": 10_161,
                   "late": 4_934, "aggregated": 969_778, "windows": 100_077}


def peak_rss_mib() -> float:
    """Peak resident set size of this process (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def process_age() -> float | None:
    """Seconds since this process started (Linux), to report whole-process throughput."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def line_batches(path: str, size: int) -> Iterator[list[bytes]]:
    """The file's lines, ``size`` at a time (newlines kept: the decoder ignores them)."""
    with open(path, "rb") as f:
        while True:
            lines = list(islice(f, size))
            if not lines:
                return
            yield lines


def run_pipeline(path: str, settings: Any = None, batch_size: int = 1000,
                 raw: bool = True, tune_gc: bool = False) -> dict[str, Any]:
    """Run the configured pipeline over ``path``; the totals and the measured figures.

    With ``raw`` the batches hold the raw lines, as a JSON Lines source delivers them, and the
    processor decodes them (in cache-sized chunks); otherwise they are decoded first. With
    ``tune_gc`` the garbage collector is set up after the pipeline is built, as ``streamdash
    run`` does (:func:`~streamdash.gc_tuning.tune_for_streaming`); the thresholds are restored
    at the end.
    """
    from ..config import Settings
    from ..events import EventBus
    from ..metrics import Metrics
    from ..models import Batch
    from ..pipeline import build_processor
    from ..pipeline.jsonl import decode_lines
    from ..pipeline.workers import Consumer
    from ..sources.base import FieldHints
    from ..store.quarantine import Quarantine
    from ..store.recent import RecentLog
    from ..store.ring import RingBuffer

    settings = settings or Settings(BENCH_SETTINGS)
    hints = FieldHints(value_field="value", key_field="sensor", time_field="ts",
                       required=("id", "sensor", "ts"))
    events, metrics = EventBus(), Metrics()
    windows_log, late_log = RecentLog(2000), RecentLog(1000)
    events.subscribe("window", windows_log.extend_from)
    events.subscribe("late", late_log.extend_from)
    totals = {"windows": 0, "aggregated": 0, "null": 0}
    value_field = "value"

    def count_windows(items: list[dict[str, Any]]) -> None:
        totals["windows"] += len(items)
        totals["aggregated"] += sum(w["count"] for w in items)

    events.subscribe("window", count_windows)
    processor = build_processor(settings, hints, publish=events.publish)
    window = _value_window(processor, value_field)
    counted = processor if window is not None else _NullCounting(processor, value_field, totals)
    consumer = Consumer(queue.Queue(), counted, RingBuffer(settings.get("buffer.capacity")),
                        Quarantine(events=events), metrics)
    previous_gc = None
    if tune_gc:
        from ..gc_tuning import tune_for_streaming

        previous_gc = tune_for_streaming()
    latencies: list[float] = []
    perf = time.perf_counter
    handle = consumer.handle
    lines_in = 0
    started, cpu_started = perf(), time.process_time()
    for lines in line_batches(path, batch_size):
        t0 = perf()
        records = lines if raw else decode_lines(lines)
        handle(Batch(records, time.time(), "bench", t0))
        latencies.append(perf() - t0)
        lines_in += len(lines)
    processor.flush()
    elapsed = perf() - started
    if window is not None:
        totals["null"] = window.skipped
    if previous_gc is not None:
        gc.set_threshold(*previous_gc)
    cpu = time.process_time() - cpu_started
    c = metrics.snapshot()["counters"]
    got = {"total": lines_in, "invalid": int(c.get("records_rejected", 0)),
           "dup": int(c.get("records_duplicate", 0)), "null": totals["null"],
           "late": int(c.get("records_late", 0)), "aggregated": totals["aggregated"],
           "windows": totals["windows"]}
    return {"totals": got, "elapsed_s": elapsed, "records_per_s": lines_in / elapsed,
            "cpu_s": cpu, "records_per_cpu_s": lines_in / cpu, **_percentiles(latencies),
            "accounting_ok": _identity(c, lines_in)}


class _NullCounting:
    """The processor, with the benchmark counting null values among each batch's accepted
    records as the batch leaves it (the contract's ``null`` total), for configurations
    without a window on the value field (with one, the window rule's ``skipped`` count is
    that total and costs nothing: see :func:`_null_total`).

    Instrumentation, not pipeline work, so it is done where it is cheapest: while the records
    are still in the CPU cache. As a batch listener (after the consumer has stored the batch,
    freeing the 1,000 oldest records of the ring) the same count cost ~5 % of the run.
    """

    def __init__(self, processor: Any, field: str, totals: dict[str, int]):
        from ..pipeline.rules import column

        self.processor = processor
        self.field = field
        self.totals = totals
        self.column = column

    def process(self, records: list[Any], batch: Any) -> Any:
        result = self.processor.process(records, batch)
        self.totals["null"] += self.column(result.accepted, self.field).count(None)
        return result

    def tick(self) -> int:
        return self.processor.tick()


def _value_window(processor: Any, field: str) -> Any:
    """The last rule of the chain when it is a window on ``field`` (its ``skipped`` count is
    then the number of accepted records whose value is null or not a number)."""
    from ..pipeline.rules import Windows

    rules = getattr(processor, "rules", [])
    last = rules[-1] if rules else None
    return last if isinstance(last, Windows) and last.field == field else None


def _identity(c: dict[str, float], lines_in: int) -> bool:
    outcomes = sum(c.get(f"records_{o}", 0) for o in
                   ("accepted", "rejected", "duplicate", "filtered", "late"))
    return outcomes == lines_in


def reference_loop(path: str, retain: int = 0, batch_size: int = 1000) -> dict[str, Any]:
    """The contract semantics as a plain hand-written loop (orjson + dicts), for the ratio.

    Lines are read ``batch_size`` at a time, as the pipeline run reads them, and each batch is
    timed, so the loop's own per-batch latency can be set beside the pipeline's. With
    ``retain`` the loop also keeps its newest ``retain`` aggregated records (a ``deque``), as
    the pipeline's ring buffer keeps the newest accepted records for the dashboard: holding
    records instead of freeing each at once is a cost of its own (memory the allocator can no
    longer hand straight back), which this variant shows apart from the pipeline's work.
    """
    from collections import deque
    from datetime import datetime, timezone

    import orjson

    started, cpu_started = time.perf_counter(), time.process_time()
    invalid = dup = null = late = aggregated = windows = 0
    seen: set[str] = set()
    max_ts = None
    open_windows: dict[float, dict[str, list[float]]] = {}
    utc = timezone.utc
    kept: deque[dict[str, Any]] = deque(maxlen=max(retain, 1))
    keep = kept.append if retain else None
    latencies: list[float] = []
    perf = time.perf_counter
    for lines in line_batches(path, batch_size):
        t0 = perf()
        for line in lines:
            try:
                r = orjson.loads(line)
            except orjson.JSONDecodeError:
                invalid += 1
                continue
            if type(r) is not dict or "value" not in r:
                invalid += 1
                continue
            i, s, ts, v, u = (r.get("id"), r.get("sensor"), r.get("ts"), r["value"],
                              r.get("unit"))
            if type(i) is not str or type(s) is not str or type(ts) is not str \
                    or u not in ("C", "F") or type(u) is not str \
                    or (v is not None and type(v) is not float and type(v) is not int):
                invalid += 1
                continue
            try:
                d = datetime.fromisoformat(ts[:-1] + "+00:00" if ts.endswith("Z") else ts)
            except ValueError:
                invalid += 1
                continue
            t = (d if d.tzinfo else d.replace(tzinfo=utc)).timestamp()
            if i in seen:
                dup += 1
                continue
            seen.add(i)
            if v is None:
                null += 1
                continue
            if u == "F":
                v = (v - 32) * 5 / 9
            if max_ts is None or t > max_ts:
                max_ts = t
                wm = max_ts - 30
                for start in [st for st in open_windows if st + 10 <= wm]:
                    windows += len(open_windows.pop(start))
            if t < max_ts - 30:
                late += 1
                continue
            aggregated += 1
            if keep is not None:
                keep(r)
            start = (t // 10) * 10
            slot = open_windows.get(start)
            if slot is None:
                slot = open_windows[start] = {}
            w = slot.get(s)
            if w is None:
                slot[s] = [1, v, v, v]
            else:
                w[0] += 1
                w[1] += v
                if v < w[2]:
                    w[2] = v
                if v > w[3]:
                    w[3] = v
        latencies.append(perf() - t0)
    windows += sum(len(slot) for slot in open_windows.values())
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    total = invalid + dup + null + late + aggregated
    return {"totals": {"total": total, "invalid": invalid, "dup": dup, "null": null,
                       "late": late, "aggregated": aggregated, "windows": windows},
            "retain": retain, "elapsed_s": elapsed, "records_per_s": total / elapsed, "cpu_s": cpu,
            "records_per_cpu_s": total / cpu, **_percentiles(latencies),
            "peak_rss_mib": peak_rss_mib(), "process_s": process_age()}


def _percentiles(latencies: list[float]) -> dict[str, Any]:
    """Batch latency p50/p99/max (ms) of a run."""
    latencies = sorted(latencies)
    n = len(latencies)
    if not n:
        return {"batches": 0, "batch_p50_ms": None, "batch_p99_ms": None, "batch_max_ms": None}
    return {"batches": n, "batch_p50_ms": latencies[n // 2] * 1000,
            "batch_p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000,
            "batch_max_ms": latencies[-1] * 1000}


def run_reference(path: str, retain: int = 0, batch_size: int = 1000) -> dict[str, Any]:
    """:func:`reference_loop` in a child process (its own memory and garbage collector)."""
    out = subprocess.run([sys.executable, "-m", "streamdash.bench.pipeline", "--reference",
                          path, str(retain), str(batch_size)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def run_rounds(args: argparse.Namespace) -> dict[str, Any]:
    """``args.rounds`` rounds, each running the pipeline, the hand-written loop and the loop
    keeping the newest records, every one in a fresh child process, the order rotated from
    round to round: on a machine whose speed drifts, each round's ratio compares runs made
    seconds apart, and the median over rounds is the figure to quote."""
    from ..config import Settings, load_settings

    settings = load_settings(args.config, environ={}) if args.config else Settings(BENCH_SETTINGS)
    capacity = settings.get("buffer.capacity")
    command = [sys.executable, "-m", "streamdash.cli", "bench", "pipeline", "--file", args.file,
               "--batch-size", str(args.batch_size), "--json"]
    command += ["--config", args.config] if args.config else []
    command += ["--no-gc-tuning"] if args.no_gc_tuning else []

    def pipeline() -> dict[str, Any]:
        out = subprocess.run(command, capture_output=True, text=True)
        if out.returncode not in (0, 1) or not out.stdout.strip():
            raise RuntimeError(f"pipeline run failed: {out.stderr.strip()[-500:]}")
        return json.loads(out.stdout)

    runs = {"pipeline": pipeline,
            "loop": lambda: run_reference(args.file, 0, args.batch_size),
            "loop_keeping": lambda: run_reference(args.file, capacity, args.batch_size)}
    order = list(runs)
    rounds = []
    for i in range(args.rounds):
        got = {name: runs[name]() for name in order[i % 3:] + order[:i % 3]}
        pipe, loop, keep = got["pipeline"], got["loop"], got["loop_keeping"]
        rounds.append({"pipeline": pipe, "loop": loop, "loop_keeping": keep,
                       "ratio": pipe["records_per_s"] / loop["records_per_s"],
                       "ratio_keeping": pipe["records_per_s"] / keep["records_per_s"],
                       "totals_ok": pipe["totals_ok"] and pipe["accounting_ok"]
                       and pipe["totals"] == loop["totals"] == keep["totals"]})

    def med(values: list[float]) -> float:
        return statistics.median(values)

    summary = {"rounds": len(rounds),
               "ratio_median": med([r["ratio"] for r in rounds]),
               "ratio_min": min(r["ratio"] for r in rounds),
               "ratio_max": max(r["ratio"] for r in rounds),
               "ratio_keeping_median": med([r["ratio_keeping"] for r in rounds])}
    for name in runs:
        for key in ("records_per_s", "batch_p50_ms", "batch_p99_ms"):
            summary[f"{name}_{key}_median"] = med([r[name][key] for r in rounds])
    summary["pipeline_peak_rss_mib_max"] = max(r["pipeline"]["peak_rss_mib"] for r in rounds)
    return {"file": args.file, "rounds": rounds, "summary": summary,
            "totals_ok": all(r["totals_ok"] for r in rounds)}


ROUND_ROW = ("  {:>6}  {:>14,.0f} {:>7.2f} {:>7.2f} | {:>11,.0f} {:>7.2f} {:>7.2f} | "
             "{:>14,.0f} | {:>5.2f}× {:>6.2f}×")


def format_rounds(result: dict[str, Any]) -> str:
    """The human-readable report of :func:`run_rounds`: one row a round, then the medians."""
    s = result["summary"]
    lines = [f"pipeline benchmark: {result['file']} — {s['rounds']} rounds (pipeline, loop, loop "
             "keeping the ring's records; each a fresh process, order rotated)",
             "   round  pipeline rec/s  p50 ms  p99 ms |  loop rec/s  p50 ms  p99 ms |"
             "  keeping rec/s |  ratio  keeping"]
    for i, r in enumerate(result["rounds"], start=1):
        p, lp, k = r["pipeline"], r["loop"], r["loop_keeping"]
        lines.append(ROUND_ROW.format(
            i, p["records_per_s"], p["batch_p50_ms"], p["batch_p99_ms"], lp["records_per_s"],
            lp["batch_p50_ms"], lp["batch_p99_ms"], k["records_per_s"], r["ratio"],
            r["ratio_keeping"]) + ("" if r["totals_ok"] else "  TOTALS MISMATCH"))
    lines += [ROUND_ROW.format(
        "median", *(s[f"{name}_{key}_median"] for name in ("pipeline", "loop")
                    for key in ("records_per_s", "batch_p50_ms", "batch_p99_ms")),
        s["loop_keeping_records_per_s_median"], s["ratio_median"], s["ratio_keeping_median"]),
              f"  pipeline/loop      median {s['ratio_median']:.2f}× "
              f"(range {s['ratio_min']:.2f}–{s['ratio_max']:.2f}×)",
              f"  peak RSS           {s['pipeline_peak_rss_mib_max']:.0f} MiB (pipeline, largest)",
              "  totals check       " + ("OK (exact, every round)" if result["totals_ok"]
                                         else "MISMATCH (see the rounds)")]
    return "\n".join(lines)


def cmd_bench_pipeline(args: argparse.Namespace) -> int:
    """Run the benchmark, print the figures (text or JSON); 1 when totals differ."""
    from ..config import Settings, load_settings

    if args.rounds > 1:
        rounds = run_rounds(args)
        print(json.dumps(rounds, indent=1) if args.json else format_rounds(rounds))
        return 0 if rounds["totals_ok"] else 1
    settings = load_settings(args.config, environ={}) if args.config else None
    result = run_pipeline(args.file, settings, args.batch_size, tune_gc=not args.no_gc_tuning)
    result["gc_tuned"] = not args.no_gc_tuning
    result["peak_rss_mib"] = peak_rss_mib()
    result["process_s"] = process_age()
    if result["process_s"]:
        result["records_per_s_whole_process"] = result["totals"]["total"] / result["process_s"]
    expected = None
    if result["totals"]["total"] == CONTRACT_TOTALS["total"]:
        expected = CONTRACT_TOTALS
    if args.reference:
        ref = run_reference(args.file, 0, args.batch_size)
        result["reference"] = ref
        result["ratio_vs_reference"] = result["records_per_s"] / ref["records_per_s"]
        result["cpu_ratio_vs_reference"] = result["records_per_cpu_s"] / ref["records_per_cpu_s"]
        capacity = (settings or Settings(BENCH_SETTINGS)).get("buffer.capacity")
        held = run_reference(args.file, capacity, args.batch_size)
        result["reference_retaining"] = held
        result["ratio_vs_reference_retaining"] = result["records_per_s"] / held["records_per_s"]
        if expected is None:
            expected = ref["totals"]
    result["expected"] = expected
    result["totals_ok"] = expected is None or expected == result["totals"]
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(format_report(args.file, result))
    return 0 if result["totals_ok"] and result["accounting_ok"] else 1


def format_report(path: str, r: dict[str, Any]) -> str:
    """The human-readable report."""
    lines = [f"pipeline benchmark: {path}",
             f"  records/s          {r['records_per_s']:,.0f}  ({r['totals']['total']:,} records "
             f"in {r['elapsed_s']:.2f} s, read + decode + process)",
             f"  per CPU second     {r['records_per_cpu_s']:,.0f}  ({r['cpu_s']:.2f} s CPU; "
             "steadier than wall time on a shared machine)"]
    if r.get("records_per_s_whole_process"):
        lines.append(f"  whole process      {r['records_per_s_whole_process']:,.0f} records/s "
                     f"({r['process_s']:.2f} s including interpreter start and imports)")
    lines += [f"  batch latency      p50 {r['batch_p50_ms']:.2f} ms  p99 {r['batch_p99_ms']:.2f} ms"
              f"  max {r['batch_max_ms']:.2f} ms  ({r['batches']} batches)",
              f"  peak RSS           {r['peak_rss_mib']:.0f} MiB",
              "  totals             " + "  ".join(f"{k} {v:,}" for k, v in r["totals"].items())]
    if "reference" in r:
        ref = r["reference"]
        lines.append(f"  hand-written loop  {ref['records_per_s']:,.0f} records/s "
                     f"({ref['records_per_cpu_s']:,.0f} per CPU s), batch p50 "
                     f"{ref['batch_p50_ms']:.2f} ms p99 {ref['batch_p99_ms']:.2f} ms, peak RSS "
                     f"{ref['peak_rss_mib']:.0f} MiB → pipeline/loop = "
                     f"{r['ratio_vs_reference']:.2f}× wall, {r['cpu_ratio_vs_reference']:.2f}× CPU")
    if "reference_retaining" in r:
        held = r["reference_retaining"]
        lines.append(f"  loop keeping the newest {held['retain']:,} records (as the ring does)  "
                     f"{held['records_per_s']:,.0f} records/s, batch p50 "
                     f"{held['batch_p50_ms']:.2f} ms p99 {held['batch_p99_ms']:.2f} ms → "
                     f"pipeline/loop = {r['ratio_vs_reference_retaining']:.2f}× wall")
    if r["expected"] is None:
        lines.append("  totals check       skipped (not the 1,000,000-record contract file; "
                     "use --reference to check against the hand-written loop)")
    else:
        lines.append("  totals check       " + ("OK (exact)" if r["totals_ok"] else
                                                f"MISMATCH, expected {r['expected']}"))
    lines.append("  accounting         " + ("in = accepted + invalid + duplicate + filtered + late"
                                            if r["accounting_ok"] else "BROKEN"))
    return "\n".join(lines)


def register(group: Any) -> None:
    """Add ``pipeline`` to the ``streamdash bench`` group."""
    p = group.add_parser("pipeline", help="the configured pipeline over a JSON Lines workload",
                         description=__doc__.split("\n\n")[1])
    p.add_argument("--file", required=True, metavar="FILE",
                   help="JSON Lines workload (e.g. from ../shared/bench/gen_sensors.py)")
    p.add_argument("--config", metavar="FILE",
                   help="settings with schema/transforms (default: the contract pipeline)")
    p.add_argument("--batch-size", type=int, default=1000, metavar="N",
                   help="lines per batch (default 1000)")
    p.add_argument("--reference", action="store_true",
                   help="also run the hand-written loop (child process) and print the ratio")
    p.add_argument("--rounds", type=int, default=1, metavar="N",
                   help="N > 1: N rounds of pipeline, loop and loop keeping records, each in a "
                        "fresh process, order rotated; prints every round and the medians "
                        "(the figures to quote on a noisy machine)")
    p.add_argument("--no-gc-tuning", "--no-gc-freeze", action="store_true",
                   help="keep CPython's garbage-collector defaults (no freeze, young "
                        "threshold 700) instead of what `streamdash run` sets")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=cmd_bench_pipeline)


if __name__ == "__main__":  # the reference loop, run as a child process
    if 3 <= len(sys.argv) <= 5 and sys.argv[1] == "--reference":
        print(json.dumps(reference_loop(sys.argv[2], *(int(a) for a in sys.argv[3:]))))
    else:
        sys.exit("usage: python -m streamdash.bench.pipeline --reference FILE [RETAIN [BATCH]]")
