"""How a queued history item becomes rows: the INSERT statement and parameters per table.

An item is ``(kind, ts, payload)``: ``snapshot``, ``alerts``, ``errors``, ``run_start``,
``run_stop`` carry one payload; ``dlq_batch`` and ``windows_batch`` carry a list of events (one
queue operation per batch), each row stamped with its own event time.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .schema import CAPPED_TABLES

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
    return json.dumps(value, default=str, ensure_ascii=False)


def _text(payload: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = payload.get(key)
        if value is not None:
            return str(value)
    return None


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


def rows_of(kind: str, ts: float, payload: Any) -> tuple[str, tuple[Any, ...]]:
    """The INSERT statement and parameters for one queued item."""
    data = payload if isinstance(payload, dict) else {"value": payload}
    if kind == "snapshot":
        return "INSERT INTO snapshots (ts, data) VALUES (?, ?)", (ts, _json(payload))
    if kind == "alerts":
        return ("INSERT INTO alerts (ts, rule, state, severity, data) VALUES (?, ?, ?, ?, ?)",
                (ts, _text(data, "rule", "name", "alertname"), _text(data, "state", "status"),
                 _text(data, "severity", "level"), _json(data)))
    if kind == "dlq":
        return ("INSERT INTO dlq (ts, source, reasons, record) VALUES (?, ?, ?, ?)",
                (ts, _text(data, "source"), _json(data.get("reasons", [])),
                 _json(data.get("record"))))
    if kind == "errors":
        return ("INSERT INTO errors (ts, source, kind, message, data) VALUES (?, ?, ?, ?, ?)",
                (ts, _text(data, "source"), _text(data, "kind", "type"),
                 _text(data, "reason", "message", "error"), _json(data)))
    if kind == "windows":
        return ("INSERT INTO windows (ts, key, data) VALUES (?, ?, ?)",
                (ts, _text(data, "key"), _json(data)))
    if kind == "run_start":
        return "INSERT INTO runs (started, version) VALUES (?, ?)", (ts, _text(data, "version"))
    if kind == "run_stop":
        return ("UPDATE runs SET stopped = ? WHERE id = (SELECT MAX(id) FROM runs)", (ts,))
    raise ValueError(f"unknown history item kind {kind!r}")

