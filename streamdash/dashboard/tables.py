"""Pure functions shaping runtime snapshots into AG Grid rows and column definitions.

Every cell is plain text or a number: AG Grid renders text as text (never as HTML), so values
coming from the stream cannot inject markup. Nested values are shown as compact JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from .values import epoch_of, is_number, iso_of

#: Column holding the record's sequence number in the latest-records table.
SEQ_COLUMN = "#"
#: Most columns shown for latest records (records with more fields are rare and unreadable).
MAX_COLUMNS = 40
#: Width (px) of a "time (UTC)" column: a whole ``2026-01-02T03:04:05.678Z`` fits.
TIME_WIDTH = 230


def cell(value: Any) -> Any:
    """A grid cell: numbers stay numbers (sortable), ``None`` is blank, the rest is text."""
    if value is None or isinstance(value, str) or is_number(value):
        return "" if value is None else value
    if isinstance(value, bool):
        return str(value).lower()
    try:
        return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    except (TypeError, ValueError):
        return repr(value)


def column(field: str, header: str | None = None, **extra: Any) -> dict[str, Any]:
    """One AG Grid column definition (sortable, filterable, resizable through the defaults)."""
    return {"field": field, "headerName": header if header is not None else field, **extra}


def latest_records(items: Sequence[tuple[int, dict[str, Any]]]
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Column definitions and rows (newest first) for ``(seq, record)`` items."""
    fields: dict[str, None] = {}
    for _, rec in items:
        for k in rec:
            if len(fields) < MAX_COLUMNS:
                fields.setdefault(str(k), None)
    newest = items[-1][1] if items else {}
    cols = [column(SEQ_COLUMN, "seq", width=90, filter="agNumberColumnFilter")]
    # A time column is as wide as a whole ISO time, not cut to "2026-12-05T01:51:02.5…".
    cols += [column(f, minWidth=TIME_WIDTH) if epoch_of(newest.get(f)) is not None
             and isinstance(newest.get(f), str) else column(f)
             for f in fields if f != SEQ_COLUMN]
    rows = [{SEQ_COLUMN: seq, **{str(k): cell(v) for k, v in rec.items()}}
            for seq, rec in reversed(items)]
    return cols, rows


#: A long text cell wraps (up to 4 lines, ``sd-clamp`` in the CSS) and shows in full on hover.
WRAPPED = {"wrapText": True, "autoHeight": True, "cellClass": "sd-clamp"}

QUARANTINE_COLUMNS = [column("at", "time (UTC)", width=TIME_WIDTH),
                      column("source", width=110),
                      column("reasons", flex=1, minWidth=200, **WRAPPED, tooltipField="reasons"),
                      column("record", flex=2, minWidth=260, **WRAPPED, tooltipField="record")]


def reasons_text(reasons: Iterable[dict[str, Any]]) -> str:
    """``temperature: type (value 'abc'); sensor: required`` for a rejection's reasons."""
    parts = []
    for r in reasons:
        text = f"{r.get('field') or 'record'}: {r.get('rule', 'invalid')}"
        if r.get("value") is not None:
            text += f" (value {r['value']})"
        parts.append(text)
    return "; ".join(parts)


def quarantine_rows(rejections: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for ``Quarantine.to_dicts()`` items: time, source, reasons, the record as JSON."""
    return [{"at": iso_of(r.get("at")) or "", "source": cell(r.get("source")),
             "reasons": reasons_text(r.get("reasons") or []), "record": cell(r.get("record"))}
            for r in rejections]


ERROR_FIELDS = ("at", "source", "url", "kind", "reason", "status", "attempt", "next_delay")
ERROR_COLUMNS = [column("at", "time (UTC)", width=TIME_WIDTH), column("source", width=120),
                 column("kind", width=120), column("reason", flex=2, minWidth=240),
                 column("status", width=90), column("attempt", width=90),
                 column("next_delay", "retry in (s)", width=110), column("url", flex=1)]


def error_rows(errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for ``ingest_errors.recent()`` items (newest first, times as ISO UTC)."""
    return [{f: (iso_of(e.get(f)) or "") if f == "at" else cell(e.get(f)) for f in ERROR_FIELDS}
            for e in errors]


LATE_COLUMNS = [column("at", "set aside (UTC)", width=200), column("source", width=120),
                column("event_time", "event time (UTC)", width=200),
                column("watermark", "watermark (UTC)", width=200),
                column("lateness_s", "late by (s)", width=110, filter="agNumberColumnFilter"),
                column("record", flex=2, minWidth=260)]


def late_rows(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for the late store's items (newest first): when it was set aside, its event time,
    the watermark it missed, by how many seconds, and the record as JSON text."""
    return [{"at": iso_of(i.get("at")) or "", "source": cell(i.get("source")),
             "event_time": iso_of(i.get("event_time")) or "",
             "watermark": iso_of(i.get("watermark")) or "", "lateness_s": cell(i.get("lateness_s")),
             "record": cell(i.get("record"))}
            for i in items]
