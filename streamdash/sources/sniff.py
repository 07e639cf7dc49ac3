"""Field hints guessed from the first records of a file, for a replay without a ``fields`` map.

A CSV or JSON Lines file says nothing about which column is the time, which one names the
series (the key) and which one to chart. :func:`sniff_hints` reads the file's head — at most
:data:`SAMPLE_ROWS` records and :data:`SAMPLE_BYTES` bytes, once, when the source is built —
and picks:

* the **time** column: the first one named like a time (``ts``, ``time``, ``timestamp`` …)
  whose sampled values all parse as times (ISO-8601 text or epoch numbers), else the first text
  column whose values all parse as ISO-8601 times;
* the **key** column: the first text column (not the time) with 2 to :data:`MAX_KEY_VALUES`
  distinct values in the sample (one chart line per value; a unique id would draw thousands);
* the **value** column: the first numeric column that is not an id (``id``, ``seq``, ``*_id``).

Nothing here changes the records; a wrong guess is overridden by the ``dashboard`` settings
(``time_field``, ``key_field``, ``value_field``) or the source's ``time_field``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from .base import FieldHints
from .fields import CastError, parse_time

#: Most records and bytes read from the head of a file to guess its hints.
SAMPLE_ROWS = 200
SAMPLE_BYTES = 256 * 1024
#: Most distinct values a key column may have in the sample.
MAX_KEY_VALUES = 30
#: Column names taken for a time column when their values parse as times (lower case).
TIME_NAMES = ("ts", "time", "timestamp", "datetime", "date", "event_time", "time_utc",
              "created_at", "updated_at")
ID_NAMES = ("id", "seq", "index", "row")


def read_head(path: Path, fmt: str, convert: Callable[[Any], Any] | None = None,
              dialect: str = "excel") -> list[dict[str, Any]]:
    """The first records (objects only) of a CSV or JSON Lines file, within the sample bounds.

    Only whole lines of the first :data:`SAMPLE_BYTES` bytes are read; lines that are not JSON
    objects are skipped (the replay itself reports them). ``convert`` maps each CSV cell.
    """
    with path.open("r", encoding="utf-8", errors="replace", newline="") as f:
        head = f.read(SAMPLE_BYTES)
        if f.read(1):  # more follows: drop the last, possibly cut, line
            head = head[:head.rfind("\n") + 1]
    rows: list[dict[str, Any]] = []
    if fmt == "csv":
        for row in csv.DictReader(io.StringIO(head, newline=""), dialect=dialect):
            if len(rows) >= SAMPLE_ROWS:
                break
            rows.append({k: convert(v) if convert else v for k, v in row.items()
                         if isinstance(k, str)})
        return rows
    for line in head.splitlines():
        if len(rows) >= SAMPLE_ROWS:
            break
        try:
            value = orjson.loads(line) if line.strip() else None
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            rows.append(value)
    return rows


def sniff_hints(rows: Sequence[dict[str, Any]], time_field: str = "") -> FieldHints:
    """Hints (time, key, value and numeric fields) guessed from sample ``rows`` (see module
    doc); ``time_field``, when given, is kept as the time field."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    values = {c: [r[c] for r in rows if r.get(c) is not None] for c in columns}
    complete = {c for c in columns if all(r.get(c) is not None for r in rows)}
    time_field = time_field or _time_column(columns, values, complete)
    texts = [c for c in columns if c != time_field and values[c]
             and all(isinstance(v, str) for v in values[c])]
    key = next((c for c in texts if 2 <= len(set(values[c])) <= MAX_KEY_VALUES), "")
    numeric = tuple(c for c in columns if c != time_field and values[c]
                    and all(_is_number(v) for v in values[c]))
    value = next((c for c in numeric if not _is_id(c)), numeric[0] if numeric else "value")
    return FieldHints(value_field=value, key_field=key, time_field=time_field,
                      numeric_fields=numeric)


def _time_column(columns: list[str], values: dict[str, list[Any]], complete: set[str]) -> str:
    # Only columns present in every sampled row: the default schema then checks the time
    # field, and a row without it would be quarantined.
    def all_times(c: str, texts_only: bool) -> bool:
        vs = values[c]
        return c in complete and bool(vs) and all(
            (isinstance(v, str) or not texts_only) and _is_time(v) for v in vs)
    named = (c for c in columns if c.lower() in TIME_NAMES and all_times(c, False))
    iso = (c for c in columns if all_times(c, True)
           and not any(_is_number_text(v) for v in values[c]))
    return next(named, None) or next(iso, "")


def _is_time(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    try:
        parse_time(v)
    except (CastError, ValueError, OverflowError):
        return False
    return True


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_number_text(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def _is_id(name: str) -> bool:
    low = name.lower()
    return low in ID_NAMES or low.endswith("_id")
