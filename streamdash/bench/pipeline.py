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

The benchmark is split by job: this module holds the contract's totals, the rounds
(:func:`run_rounds`) and the command (:func:`cmd_bench_pipeline`, :func:`register`);
:mod:`.pipeline_run` the measured pipeline run and :data:`BENCH_SETTINGS`;
:mod:`.pipeline_reference` the hand-written loop and its child-process runner;
:mod:`.pipeline_report` the text reports; :mod:`.pipeline_measure` the shared measuring helpers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from typing import Any

from .pipeline_measure import peak_rss_mib, process_age
from .pipeline_reference import main as reference_main
from .pipeline_reference import run_reference
from .pipeline_report import format_report, format_rounds
from .pipeline_run import BENCH_SETTINGS, run_pipeline

#: Reference totals of CONTRACT.md for N = 1,000,000.
CONTRACT_TOTALS = {"total": 1_000_000, "invalid": 5_134, "dup": 9_993, "null": 10_161,
                   "late": 4_934, "aggregated": 969_778, "windows": 100_077}


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
    command += ["--no-typed-decoding"] if getattr(args, "no_typed_decoding", False) else []

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


def cmd_bench_pipeline(args: argparse.Namespace) -> int:
    """Run the benchmark, print the figures (text or JSON); 1 when totals differ."""
    from ..config import Settings, load_settings

    if args.rounds > 1:
        rounds = run_rounds(args)
        print(json.dumps(rounds, indent=1) if args.json else format_rounds(rounds))
        return 0 if rounds["totals_ok"] else 1
    settings = load_settings(args.config, environ={}) if args.config else None
    result = run_pipeline(args.file, settings, args.batch_size, tune_gc=not args.no_gc_tuning,
                          typed=not args.no_typed_decoding)
    result["gc_tuned"] = not args.no_gc_tuning
    result["typed_decoding"] = not args.no_typed_decoding
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
    p.add_argument("--no-typed-decoding", action="store_true",
                   help="decode lines with orjson only, not the schema's typed msgspec decoder "
                        "(to measure what that decoder brings)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=cmd_bench_pipeline)


if __name__ == "__main__":  # the reference loop's child-process entry under its former path
    reference_main(sys.argv, "streamdash.bench.pipeline")
