"""``streamdash metrics``: read the persisted metrics history without the server running.

Reads the history the settings name (``<data_dir>/history.sqlite3``, read-only and safe beside a
running pipeline, or the PostgreSQL history of ``storage.backend: postgres``; ``--history``
names another) and prints one row per snapshot with a column per metric, as an aligned table,
CSV or JSON::

    streamdash metrics --since 15m --name throughput_in --name latency_p95 --format csv
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from typing import Any, TextIO

from ..models import utc_iso
from ..reporter import SNAPSHOT_FIELDS
from ..store.history import StorageUnavailable
from ..timespec import parse_range
from .history import add_location_arguments, reader_from_args

#: Columns shown when no ``--name`` is given.
DEFAULT_NAMES = ("throughput_in", "throughput_out", "latency_p95", "error_rate", "invalid_rate",
                 "queue_depth", "dropped", "restarts")
EXIT_USAGE = 2  #: a bad argument (the exit-code convention of every subcommand)
EXIT_UNAVAILABLE = 1  #: nothing to read: no history database at the path, or unreachable


def register(sub: Any) -> None:
    """Add the ``metrics`` subcommand to the ``streamdash`` parser."""
    p = sub.add_parser("metrics", help="print the persisted metrics history (no server needed)",
                       description="Print metrics snapshots from the history: the settings' "
                                   "storage (SQLite in DATA_DIR, default ./streamdash-data, "
                                   "or PostgreSQL), or --history.",
                       epilog=f"Metric names: {', '.join(SNAPSHOT_FIELDS)}.")
    p.add_argument("--since", default="15m",
                   help="start: ISO-8601 time or span ago like 15m, 2h, 7d (default 15m)")
    p.add_argument("--until", help="end: ISO-8601 time, span ago, or now (default now)")
    p.add_argument("--name", action="append", metavar="NAME",
                   help="metric to show (repeat or comma-separate; default: a summary set)")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--limit", type=int, default=10_000, help="newest snapshots at most")
    add_location_arguments(p)
    p.set_defaults(func=cmd_metrics)


def _names(raw: list[str] | None) -> list[str]:
    names: list[str] = []
    for item in raw or [",".join(DEFAULT_NAMES)]:
        for name in (n.strip() for n in item.split(",") if n.strip()):
            if name not in SNAPSHOT_FIELDS:
                raise ValueError(f"--name: unknown metric {name!r} (known: "
                                 f"{', '.join(SNAPSHOT_FIELDS)})")
            if name not in names:
                names.append(name)
    return names


def cmd_metrics(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print the snapshots in the range; exit 2 on bad input, 1 when there is no history."""
    out = out or sys.stdout
    reader = reader_from_args(args)
    try:
        names = _names(args.name)
        since, until = parse_range(args.since, args.until, time.time(), "15m")
        if args.limit < 1:
            raise ValueError(f"--limit: must be at least 1, got {args.limit}")
    except ValueError as exc:
        print(f"streamdash metrics: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        rows = reader.snapshots(since, until, args.limit)
    except StorageUnavailable as exc:
        print(f"streamdash metrics: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if args.format == "json":
        series = {n: [{"ts": utc_iso(r["ts"]), "value": r.get(n)} for r in rows] for n in names}
        json.dump({"since": utc_iso(since), "until": utc_iso(until),
                   "history": reader.location,
                   "series": series}, out, indent=2)
        out.write("\n")
    elif args.format == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["ts", *names])
        for r in rows:
            writer.writerow([utc_iso(r["ts"]), *("" if r.get(n) is None else r[n] for n in names)])
    else:
        _table(out, names, rows)
        if not rows:
            print(f"(no snapshots between {utc_iso(since)} and {utc_iso(until)} in "
                  f"{reader.location})", file=out)
    return 0


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table(out: TextIO, names: list[str], rows: list[dict[str, Any]]) -> None:
    header = ["ts", *names]
    body = [[utc_iso(r["ts"]) or "", *(_cell(r.get(n)) for n in names)] for r in rows]
    widths = [max(len(h), *(len(line[i]) for line in body)) if body else len(h)
              for i, h in enumerate(header)]
    for line in [header, *body]:
        out.write("  ".join(c.rjust(w) if i else c.ljust(w)
                            for i, (c, w) in enumerate(zip(line, widths, strict=True))).rstrip()
                  + "\n")
