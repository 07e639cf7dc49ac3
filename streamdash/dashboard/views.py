"""What a dashboard tick sends besides the time series: only the outputs that changed.

Each part (header, panels, tables, alerts) compares what it would show with the state
the browser holds (kept in the ``client-state`` store) and returns only the outputs that
changed, keyed ``"component.prop"``, plus its new state. A tick where nothing changed returns
nothing, and the callback answers 204 (``PreventUpdate``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from . import alerts
from .layout import ALERT_SLOTS, KPI_IDS, field_options
from .live import LiveView
from .texts import kpi_texts, status_badge

Outputs = dict[str, Any]

#: Every output ``tick`` may update, in the callback's order.
TICK_OUTPUTS: tuple[str, ...] = (
    "status-badge.children", "status-badge.color", "status-badge.title", "poll-interval.children",
    "last-update.children", "stale-warning.children", "stale-warning.is_open",
    "stale-warning.color",
    *(f"kpi-{kpi_id}.children" for kpi_id, _ in KPI_IDS),
    "chart-windows.figure", "chart-histogram.figure", "chart-quality.figure",
    "chart-quality.extendData",
    "grid-latest.rowData", "grid-latest.columnDefs", "grid-quarantine.rowData",
    "grid-errors.rowData", "value-field.options", "key-field.options",
    *(f"alert-slot-{i}.{prop}" for i in range(ALERT_SLOTS)
      for prop in ("is_open", "color", "children")),
    "alert-more.children", "grid-alerts.rowData", "grid-late.rowData",
)


def digest(value: Any) -> str:
    """A short fingerprint of JSON-able ``value`` (the browser keeps it instead of the value)."""
    blob = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()


def header(live: LiveView, state: Any, value_field: str,
           refresh: float | None) -> tuple[Outputs, Any]:
    """Status badge (its hover text names the firing alerts), effective interval, last
    update, stale / no-new-data banner and KPI cards (when any of them changed)."""
    s = live.summary(value_field, refresh)
    k = kpi_texts(s)
    text, color = status_badge(s["status"])
    out = {"status-badge.children": text, "status-badge.color": color,
           "status-badge.title": s["status_reasons"], "poll-interval.children": s["interval"],
           "last-update.children": s["updated"], "stale-warning.children": s["stale"] or "",
           "stale-warning.is_open": bool(s["stale"]), "stale-warning.color": s["stale_color"],
           **{f"kpi-{kpi_id}.children": k[kpi_id] for kpi_id, _ in KPI_IDS}}
    new = digest(out)
    return ({} if new == state else out), new


def panels(live: LiveView, state: Any, value_field: str) -> tuple[Outputs, Any]:
    """Window, histogram and quality charts, each sent only when its data changed."""
    state = state or {}
    out: Outputs = {}
    wkey, windows = live.windows()
    hkey, hist = live.histogram(value_field)
    new = {"windows": [live.epoch, *wkey], "hist": [live.epoch, *hkey]}
    if new["windows"] != state.get("windows"):
        out["chart-windows.figure"] = windows
    if new["hist"] != state.get("hist"):
        out["chart-histogram.figure"] = hist
    quality = live.quality(state.get("quality")) or {}
    new["quality"] = quality.get("state", state.get("quality"))
    if "figure" in quality:
        out["chart-quality.figure"] = quality["figure"]
    elif "extend" in quality:
        out["chart-quality.extendData"] = quality["extend"]
    return out, new


def tables(live: LiveView, state: Any) -> tuple[Outputs, Any]:
    """Latest records, quarantine, late records and ingestion errors, and the field pickers'
    options."""
    state = state or {}
    cols, rows = live.latest_records()
    new = {**live.table_versions(), "epoch": live.epoch, "cols": [c["field"] for c in cols],
           "fields": [list(f) for f in live.field_names()]}
    changed = {k for k in new if new["epoch"] != state.get("epoch") or new[k] != state.get(k)}
    out: Outputs = {}
    if "latest" in changed:
        out["grid-latest.rowData"] = rows
    if "cols" in changed:
        out["grid-latest.columnDefs"] = cols
    if "quarantine" in changed:
        out["grid-quarantine.rowData"] = live.quarantine_rows()
    if "errors" in changed:
        out["grid-errors.rowData"] = live.error_rows()
    if "late" in changed:
        out["grid-late.rowData"] = live.late_rows()
    if "fields" in changed:
        out["value-field.options"], out["key-field.options"] = map(field_options, new["fields"])
    return out, new


def alert_banners(live: LiveView, state: Any) -> tuple[Outputs, Any]:
    """The firing-alert banner slots (severity colour, rule, value vs threshold, since) and
    the alert history table."""
    state = state or {}
    active, history = live.alerts(live.options.table_rows)
    slots, more = alerts.banner_slots(active, live.runtime.clock(), ALERT_SLOTS)
    out: Outputs = {"alert-more.children": more}
    for i, (is_open, color, text) in enumerate(slots):
        out.update({f"alert-slot-{i}.is_open": is_open, f"alert-slot-{i}.color": color,
                    f"alert-slot-{i}.children": text})
    new = {"banners": digest(out),
           "history": [live.epoch, len(history), history[0]["at"] if history else None]}
    if new["banners"] == state.get("banners"):
        out = {}
    if new["history"] != state.get("history"):
        out["grid-alerts.rowData"] = alerts.history_rows(history)
    return out, new


def tick(live: LiveView, state: dict[str, Any] | None, value_field: str,
         refresh: float | None) -> tuple[Outputs, dict[str, Any]]:
    """Everything but the time series that one tick sends to one browser, and its new state.

    (The time series has its own callback so its incremental update stays one small request.)
    """
    state = state or {}
    out: Outputs = {}
    new: dict[str, Any] = {}
    for name, (part, params) in {
        "header": (header, (value_field, refresh)),
        "panels": (panels, (value_field,)),
        "tables": (tables, ()),
        "alerts": (alert_banners, ()),
    }.items():
        part_out, new[name] = part(live, state.get(name), *params)
        out.update(part_out)
    return out, new
