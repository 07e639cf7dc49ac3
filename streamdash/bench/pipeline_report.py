"""The human-readable reports of ``streamdash bench pipeline``: one run
(:func:`format_report`, beside the hand-written loop with ``--reference``) and ``--rounds N``
(:func:`format_rounds`: one row a round, then the medians). ``--json`` prints the same figures
unformatted; the figures themselves come from :mod:`.pipeline`.
"""

from __future__ import annotations

from typing import Any

#: One row of the ``--rounds`` table (a round, or the medians).
ROUND_ROW = ("  {:>6}  {:>14,.0f} {:>7.2f} {:>7.2f} | {:>11,.0f} {:>7.2f} {:>7.2f} | "
             "{:>14,.0f} | {:>5.2f}× {:>6.2f}×")


def format_rounds(result: dict[str, Any]) -> str:
    """The human-readable report of :func:`~streamdash.bench.pipeline.run_rounds`: one row a
    round, then the medians."""
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


def format_report(path: str, r: dict[str, Any]) -> str:
    """The human-readable report of one run (``r``: what ``cmd_bench_pipeline`` prints as JSON)."""
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
