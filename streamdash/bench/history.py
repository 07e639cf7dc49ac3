"""``streamdash bench history`` (or ``python -m streamdash.bench.history``): persistence cost.

Measures what the pipeline pays to hand records to the history store (the enqueue, done in the
publisher's thread) and how fast the writer thread gets them into SQLite, on a temporary
database. With ``--postgres URL`` (or ``--backends``) it compares the backends instead
(``history_backends``: snapshot writes/s and a 24 h ``/api/metrics`` query, SQLite against
PostgreSQL). Prints lines of figures; nothing is asserted (timings belong in benchmarks).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

from ..store.history import StorageOptions, open_history


def run(records: int = 100_000, batch: int = 100) -> dict[str, float]:
    """Publish ``records`` rejections in batches of ``batch``; returns the measured figures."""
    rows = [{"at": time.time(), "source": "bench", "record": {"id": i, "value": i * 0.5},
             "reasons": [{"field": "value", "rule": "range", "value": "x"}]}
            for i in range(records)]
    with tempfile.TemporaryDirectory() as tmp:
        history = open_history(f"sqlite:{tmp}", StorageOptions(queue_size=records + 10))
        history.start()
        while history.status()["written"] < 1:  # the run row: the database is open
            time.sleep(0.005)
        began = time.perf_counter()
        for i in range(0, records, batch):
            history.on_rejections(rows[i:i + batch])
        enqueued = time.perf_counter() - began
        while history.status()["written"] < records + 1:
            time.sleep(0.005)
        written = time.perf_counter() - began
        history.stop()
        dropped = history.status()["dropped"]
    return {"records": records, "enqueue_us_per_record": enqueued / records * 1e6,
            "write_seconds": written, "rows_per_second": records / written, "dropped": dropped}


def report(figures: dict[str, Any]) -> str:
    """One human line of figures."""
    return (f"history: enqueue {figures['enqueue_us_per_record']:.2f} µs/record (publisher "
            f"thread); {figures['records']:,} DLQ rows written in {figures['write_seconds']:.2f} s "
            f"= {figures['rows_per_second']:,.0f} rows/s (writer thread); "
            f"dropped {figures['dropped']}")


def register(group: Any) -> None:
    """Add ``history`` to the ``streamdash bench`` group."""
    p = group.add_parser("history", help="persistence: enqueue cost and write rate; with "
                         "--postgres, SQLite against PostgreSQL")
    add_arguments(p)
    p.set_defaults(func=main)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The benchmark's flags."""
    p.add_argument("--records", type=int, default=100_000,
                   help="quarantined records to write (the enqueue benchmark)")
    p.add_argument("--postgres", metavar="URL",
                   help="compare SQLite with the PostgreSQL at URL (a schema of its own, "
                        "dropped afterwards)")
    p.add_argument("--backends", action="store_true",
                   help="the backend comparison (SQLite alone without --postgres)")
    p.add_argument("--snapshots", type=int, default=8640,
                   help="snapshots written in the comparison (default: a day every 10 s)")
    p.add_argument("--repeat", type=int, default=5, help="timed runs of each query")


def main(args: argparse.Namespace) -> int:
    """Run what the flags ask for and print its figures."""
    if args.postgres or args.backends:
        from .history_backends import compare
        from .history_backends import report as compared

        interval = 86_400.0 / max(1, args.snapshots)
        print(compared(compare(args.postgres, args.snapshots, interval, args.repeat)))
    else:
        print(report(run(args.records)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    main(parser.parse_args())
