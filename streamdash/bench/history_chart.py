"""``python -m streamdash.bench.history_chart``: what the pipeline-history chart costs.

Writes a day of metrics snapshots (every ``--interval`` seconds, all ``SNAPSHOT_FIELDS``)
through the real history store into a temporary data dir, builds a dashboard on it (runtime not
started, so everything comes from SQLite) and, per range, times an uncached read (SQL bucketing
plus building the figure) and the history callback replayed through Flask for a browser that
already shows the current version (the 204 every other tick gets). Prints one line per range;
nothing is asserted (timings belong in benchmarks).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from typing import Any

from ..config import Settings
from ..dashboard.options import HISTORY_RANGES
from ..dashboard.replay import CallbackClient
from ..reporter import SNAPSHOT_FIELDS
from ..store.history import StorageOptions, open_history
from ..testing import ListSource

DAY = 86_400.0


def fill(data_dir: str, interval: float, seed: int = 1) -> int:
    """Write a day of snapshots ending now, every ``interval`` s; returns how many."""
    rng = random.Random(seed)
    now, n = time.time(), int(DAY / interval)
    with open_history(f"sqlite:{data_dir}", StorageOptions(queue_size=n + 10)) as history:
        for i in range(n):
            values = {f: round(rng.random(), 6) for f in SNAPSHOT_FIELDS}
            history.record_snapshot({**values, "interval_s": interval},
                                    ts=now - DAY + i * interval)
    return n


def run(interval: float = 10.0, repeat: int = 5) -> list[dict[str, Any]]:
    """Figures per range for a day of snapshots every ``interval`` seconds."""
    from ..app import create_app

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        rows = fill(tmp, interval)
        app = create_app(Settings({"data_dir": tmp}), ListSource([], name="bench"), start=False)
        live = app.live  # type: ignore[attr-defined]
        client = CallbackClient(app, "chart-history.figure", app.server.test_client().post)
        for label in HISTORY_RANGES:
            reads = []
            for _ in range(repeat):
                live._history_cache.clear()  # an uncached read, as at the start of a period
                began = time.perf_counter()
                version, figure = live.history(label)
                reads.append(time.perf_counter() - began)
            for _ in range(3):
                # The version rolls over with the refresh period; a call that straddled a
                # boundary held a stale version, so it is asked again with the current one.
                values = {"history-tick.n_intervals": 1, "history-range.value": label,
                          "history-state.data": version}
                began = time.perf_counter()
                status = client.call(values)[0]
                cached = time.perf_counter() - began
                current = live.history(label)[0]
                if status == 204 or current == version:
                    break
                version = current
            out.append({"range": label, "snapshots": rows,
                        "read_ms": 1000 * statistics.median(reads),
                        "points": max(len(t["x"]) for t in figure["data"]),
                        "figure_kb": len(json.dumps(figure)) / 1024,
                        "held_status": status, "held_ms": 1000 * cached})
    return out


def report(interval: float, results: list[dict[str, Any]]) -> str:
    """One line per range."""
    lines = [f"history chart, a day of {interval:g} s snapshots ({results[0]['snapshots']:,} "
             "rows):"]
    lines += [f"  {r['range']:>6}: uncached read + figure {r['read_ms']:.1f} ms (median), "
              f"{r['points']} points/series, {r['figure_kb']:.0f} KB; a browser holding it: "
              f"HTTP {r['held_status']} in {r['held_ms']:.1f} ms" for r in results]
    return "\n".join(lines)


def register(group: Any) -> None:
    """Add ``history-chart`` to the ``streamdash bench`` group."""
    p = group.add_parser("history-chart", help="pipeline-history chart: read cost per range")
    p.add_argument("--interval", type=float, default=10.0, help="snapshot interval, s (10)")
    p.add_argument("--repeat", type=int, default=5, help="uncached reads per range (5)")
    p.set_defaults(func=lambda a: print(report(a.interval, run(a.interval, a.repeat))) or 0)


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(report(args.interval, run(args.interval, args.repeat)))
