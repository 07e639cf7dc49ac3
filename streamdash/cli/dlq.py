"""``streamdash dlq export``: the quarantined records (dead-letter queue) as JSON Lines.

Reads the history the settings name (table ``dlq`` of ``<data_dir>/history.sqlite3``, or of the
PostgreSQL history; ``--history`` names another; it may be in use by a running app: reads go
beside the writer), or, with ``--from-url``, the
``/api/dlq`` endpoint of a running app (which answers from its history, or from its in-memory
quarantine when it persists nothing). Each line is
``{"at": ISO-8601, "source": …, "reasons": [{field, rule, value}, …], "record": …}``, oldest
first. Secrets the settings name (an API key an upstream echoed in a record) are blanked, as in
every other output.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..errors import ConfigError
from ..redact import MASK, Redactor, output_redactor
from .history import add_location_arguments, reader_from_args

EXIT_UNAVAILABLE = 1
#: Items asked for per /api/dlq page with --from-url (within any sane api.max_limit).
PAGE = 1000


def register(sub: Any) -> None:
    """Add the ``dlq`` command group (``dlq export``) to the ``streamdash`` parser."""
    dlq = sub.add_parser("dlq", help="the dead-letter queue (quarantined records)",
                         description="The dead-letter queue: records rejected by validation.")
    dlq.set_defaults(func=lambda args: dlq.print_help() or 2)
    group = dlq.add_subparsers(dest="dlq_command", metavar="ACTION")
    p = group.add_parser("export", help="write quarantined records as JSON Lines",
                         description=__doc__.split("\n\n")[1])
    add_location_arguments(p)
    p.add_argument("--from-url", metavar="URL",
                   help="read /api/dlq of a running app instead (e.g. http://127.0.0.1:8050)")
    p.add_argument("--since", default="30d",
                   help="start: ISO-8601 time or span ago like 15m, 2h, 7d (default 30d)")
    p.add_argument("--until", help="end: ISO-8601 time, span ago, or now (default now)")
    p.add_argument("--limit", type=int, default=1_000_000, help="newest records at most")
    p.add_argument("--out", "-o", metavar="FILE", help="output file (default: standard output)")
    p.set_defaults(func=cmd_export)


def from_history(reader: Any, since: float, until: float, limit: int) -> list[dict[str, Any]]:
    """DLQ rows of a history (a ``HistoryReader``), oldest first, as export items."""
    from ..models import utc_iso

    rows = reader.events("dlq", since, until, limit)
    return [{"at": utc_iso(r["ts"]), "source": r.get("source"), "reasons": r.get("reasons"),
             "record": r.get("record")} for r in reversed(rows)]


def from_url(base: str, since: str, until: str | None, limit: int) -> list[dict[str, Any]]:
    """DLQ items from a running app's ``/api/dlq``, oldest first, as export items."""
    import requests

    params = {"since": since}
    if until:
        params["until"] = until
    url = base.rstrip("/") + "/api/dlq"
    items: list[dict[str, Any]] = []
    while len(items) < limit:  # the API answers pages: follow 'next' (older items)
        params["limit"] = str(min(limit - len(items), PAGE))
        try:
            resp = requests.get(url, params=params, timeout=10)
        except requests.RequestException as exc:
            raise LookupError(f"cannot reach {url}: {exc}") from None
        if resp.status_code != 200:
            raise LookupError(f"{url} answered HTTP {resp.status_code}: {resp.text[:200]}")
        body = resp.json()
        items += body.get("items", [])
        if not body.get("next"):
            break
        params["cursor"] = body["next"]
    out = []
    for item in reversed(items):
        at = item.get("at") or item.get("ts")
        out.append({"at": at, "source": item.get("source"), "reasons": item.get("reasons"),
                    "record": item.get("record")})
    return out


def redacted(items: list[dict[str, Any]], redactor: Redactor) -> list[dict[str, Any]]:
    """``items`` with every secret ``redactor`` knows blanked (as the HTTP answers are)."""
    if not redactor:
        return items
    import orjson

    out = []
    for item in items:
        text = orjson.dumps(item, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        clean = redactor.text(text)
        try:
            out.append(item if clean == text else orjson.loads(clean))
        except orjson.JSONDecodeError:  # a secret spanning JSON syntax: drop the record
            out.append({**{k: item.get(k) for k in ("at", "source")}, "record": MASK,
                        "reasons": []})
    return out


def cmd_export(args: argparse.Namespace) -> int:
    """Export the DLQ; 1 with a one-line reason when there is nothing to read."""
    from ..config import load_settings
    from ..store.history import StorageUnavailable
    from ..store.quarantine import write_jsonl
    from ..timespec import parse_range

    if args.limit < 1:
        raise ConfigError("--limit", f"must be ≥ 1, got {args.limit}")
    try:
        if args.from_url:
            items = from_url(args.from_url, args.since, args.until, args.limit)
        else:
            reader = reader_from_args(args)  # as `metrics` finds it
            try:
                since, until = parse_range(args.since, args.until, time.time(), "30d")
            except ValueError as exc:
                raise ConfigError("--since", str(exc)) from None
            items = from_history(reader, since, until, args.limit)
            # The database keeps records as the upstream sent them, echoed keys included; the
            # app's /api/dlq blanks the configured secrets, and so does this export.
            items = redacted(items, output_redactor(
                load_settings(args.config, overrides={"data_dir": args.data_dir}).as_dict()))
    except (StorageUnavailable, LookupError) as exc:
        print(f"streamdash: dlq export: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if args.out:
        with open(args.out, "wb") as f:
            n = write_jsonl(items, f)
    else:
        n = write_jsonl(items, sys.stdout.buffer)
        sys.stdout.flush()
    print(f"streamdash: exported {n} quarantined record(s)", file=sys.stderr)
    return 0
