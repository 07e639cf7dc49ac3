"""Measuring helpers shared by the pipeline benchmark's runs: the pipeline run
(:mod:`.pipeline_run`), the hand-written loop (:mod:`.pipeline_reference`) and the command
(:mod:`.pipeline`).

Both runs read the workload the same way (:func:`line_batches`) and time each batch the same
way (:func:`batch_percentiles`), so their figures can be set side by side; each process reports
its own peak RSS (:func:`peak_rss_mib`) and age (:func:`process_age`).
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from itertools import islice
from typing import Any


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


def batch_percentiles(latencies: list[float]) -> dict[str, Any]:
    """Batch latency p50/p99/max (ms) of a run."""
    latencies = sorted(latencies)
    n = len(latencies)
    if not n:
        return {"batches": 0, "batch_p50_ms": None, "batch_p99_ms": None, "batch_max_ms": None}
    return {"batches": n, "batch_p50_ms": latencies[n // 2] * 1000,
            "batch_p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000,
            "batch_max_ms": latencies[-1] * 1000}
