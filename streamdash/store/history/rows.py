"""How a queued history item becomes rows: the INSERT statement and parameters per table, the
same for both backends (statements use ``?``; ``base.Dialect.sql`` translates).

An item is ``(kind, ts, payload)``: ``snapshot``, ``alerts``, ``errors``, ``run_start``,
``run_stop`` carry one payload; ``dlq_batch`` and ``windows_batch`` carry a list of events (one
queue operation per batch), each row stamped with its own event time.

Values come from hostile places (a source's body, an upstream's error message), so every
parameter is one both databases store: text without NUL characters or lone surrogates (both
become U+FFFD; JSON text escapes them), snapshot numbers finite (NaN and infinities become
null, which is how the API shows them anyway).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from .tables import CAPPED_TABLES, COLUMNS

#: Queue items that carry a list of events (one queue operation per batch), and their table.
BATCH_KINDS = {"dlq_batch": "dlq", "windows_batch": "windows"}

Item = tuple[str, float, Any]


def event_time(payload: Any, default: float) -> float:
    """Epoch seconds of an event: its ``ts``/``at``/``time`` field (epoch or ISO) or ``default``."""
    if isinstance(payload, dict):
        for key in ("ts", "at_ts", "at", "time", "starts_at"):
            value = payload.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            if isinstance(value, str):
                try:
                    return datetime.fromisoformat(value.replace("z", "Z")).timestamp()
                except ValueError:
                    continue
    return default


def _json(value: Any) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    if text.isascii() or _encodable(text):
        return text
    return json.dumps(value, default=str)  # lone surrogates: escaped (\\uXXXX)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def clean_text(value: str) -> str:
    """``value`` as both databases store it: NUL and lone surrogates become U+FFFD."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    if not value.isascii() and not _encodable(value):
        value = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
    return value


def _text(payload: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = payload.get(key)
        if value is not None:
            return clean_text(str(value))
    return None


def _snapshot_json(payload: Any) -> str:
    """A snapshot's JSON with NaN and infinities as null (PostgreSQL's jsonb refuses them,
    SQLite's JSON functions fail on them); the usual snapshot has none, and pays one
    ``json.dumps``."""
    try:
        text = json.dumps(payload, default=str, ensure_ascii=False, allow_nan=False)
    except ValueError:
        if not isinstance(payload, dict):
            return "null"
        return _json({k: None if isinstance(v, float) and not math.isfinite(v) else v
                      for k, v in payload.items()})
    return text if text.isascii() or _encodable(text) else json.dumps(payload, default=str)


def item_size(item: Item) -> int:
    """Rows one queued item becomes (a ``dlq_batch`` or ``windows_batch`` holds many)."""
    return len(item[2]) if item[0] in BATCH_KINDS else 1


def capped_table(item: Item) -> str | None:
    """The capped table one queued item writes to (``None`` for ``runs``)."""
    kind = item[0]
    table = BATCH_KINDS.get(kind) or ("snapshots" if kind == "snapshot" else kind)
    return table if table in CAPPED_TABLES else None


def statements(item: Item) -> tuple[str, list[tuple[Any, ...]]]:
    """The statement and the parameter rows of one queued item (for ``executemany``)."""
    kind, ts, payload = item
    table = BATCH_KINDS.get(kind)
    if table is not None:  # [event dict, …]: one queue item per batch of events
        # Rejections come as objects that find their reasons when asked: here, off the
        # pipeline's thread (see Quarantine).
        payload = [p.to_dict() if hasattr(p, "to_dict") else p for p in payload]
        rows = [rows_of(table, event_time(p, ts), p) for p in payload]
        return (rows[0][0] if rows else rows_of(table, ts, {})[0]), [r[1] for r in rows]
    sql, params = rows_of(kind, ts, payload)
    return sql, [params]


def insert_sql(table: str) -> str:
    """The INSERT of one row of ``table`` (its columns of ``tables.COLUMNS``)."""
    columns = COLUMNS[table]
    return (f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - names are ours
            f"VALUES ({', '.join('?' * len(columns))})")


def rows_of(kind: str, ts: float, payload: Any) -> tuple[str, tuple[Any, ...]]:
    """The INSERT statement and parameters for one queued item."""
    data = payload if isinstance(payload, dict) else {"value": payload}
    if kind == "snapshot":
        return insert_sql("snapshots"), (ts, _snapshot_json(payload))
    if kind == "alerts":
        return insert_sql(kind), (ts, _text(data, "rule", "name", "alertname"),
                                  _text(data, "state", "status"),
                                  _text(data, "severity", "level"), _json(data))
    if kind == "dlq":
        return insert_sql(kind), (ts, _text(data, "source"), _json(data.get("reasons", [])),
                                  _json(data.get("record")))
    if kind == "errors":
        return insert_sql(kind), (ts, _text(data, "source"), _text(data, "kind", "type"),
                                  _text(data, "reason", "message", "error"), _json(data))
    if kind == "windows":
        return insert_sql(kind), (ts, _text(data, "key"), _json(data))
    if kind == "run_start":
        return insert_sql("runs"), (ts, None, _text(data, "version"))
    if kind == "run_stop":  # this run's row: others may share the database
        return ("UPDATE runs SET stopped = ? WHERE id = "
                "(SELECT MAX(id) FROM runs WHERE started = ?)", (ts, data.get("started")))
    raise ValueError(f"unknown history item kind {kind!r}")
