"""The hand-written reference of the pipeline benchmark: the semantics of
``../shared/bench/CONTRACT.md`` as a plain loop (orjson + dicts), and its child-process runner.

``streamdash bench pipeline --reference`` (and every ``--rounds`` round) runs
:func:`reference_loop` in a fresh child process through :func:`run_reference`, so the loop has
its own memory and garbage collector; the child's entry point is this module::

    python -m streamdash.bench.pipeline_reference --reference FILE [RETAIN [BATCH]]

which prints the loop's figures as JSON (``python -m streamdash.bench.pipeline --reference …``,
the entry's former path, still works: it calls :func:`main` too).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from .pipeline_measure import batch_percentiles, line_batches, peak_rss_mib, process_age


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
            "records_per_cpu_s": total / cpu, **batch_percentiles(latencies),
            "peak_rss_mib": peak_rss_mib(), "process_s": process_age()}


def run_reference(path: str, retain: int = 0, batch_size: int = 1000) -> dict[str, Any]:
    """:func:`reference_loop` in a child process (its own memory and garbage collector)."""
    out = subprocess.run([sys.executable, "-m", "streamdash.bench.pipeline_reference",
                          "--reference", path, str(retain), str(batch_size)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main(argv: list[str], module: str = "streamdash.bench.pipeline_reference") -> None:
    """The child process: ``--reference FILE [RETAIN [BATCH]]`` → :func:`reference_loop`'s
    figures as one line of JSON on stdout; anything else exits with the usage (status 1)."""
    if 3 <= len(argv) <= 5 and argv[1] == "--reference":
        print(json.dumps(reference_loop(argv[2], *(int(a) for a in argv[3:]))))
    else:
        sys.exit(f"usage: python -m {module} --reference FILE [RETAIN [BATCH]]")


if __name__ == "__main__":  # the reference loop, run as a child process by run_reference
    main(sys.argv)
