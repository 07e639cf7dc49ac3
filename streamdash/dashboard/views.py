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

from ..errors import StateUnavailable
from . import alerts, ids, unavailable
from .ids import prop
from .layout import ALERT_SLOTS, KPI_IDS, field_options
from .live import LiveView
from .panels import TICK_PANELS, Inputs
from .streams import StreamViews, as_json, overview_cells, overview_rows
from .texts import kpi_texts, status_badge

Outputs = dict[str, Any]

#: Every output ``tick`` may update, in the callback's order.
TICK_OUTPUTS: tuple[str, ...] = (
    prop(ids.STATUS_BADGE, "children"), prop(ids.STATUS_BADGE, "color"),
    prop(ids.STATUS_BADGE, "title"), prop(ids.POLL_INTERVAL, "children"),
    prop(ids.LAST_UPDATE, "children"), prop(ids.STALE_WARNING, "children"),
    prop(ids.STALE_WARNING, "is_open"), prop(ids.STALE_WARNING, "color"),
    *(prop(ids.kpi(kpi_id), "children") for kpi_id, _ in KPI_IDS),
    *(name for panel in TICK_PANELS for name in panel.outputs),
    prop(ids.GRID_LATEST, "rowData"), prop(ids.GRID_LATEST, "columnDefs"),
    prop(ids.GRID_QUARANTINE, "rowData"), prop(ids.GRID_ERRORS, "rowData"),
    prop(ids.VALUE_FIELD, "options"), prop(ids.KEY_FIELD, "options"),
    *(prop(ids.alert_slot(i), name) for i in range(ALERT_SLOTS)
      for name in ("is_open", "color", "children")),
    prop(ids.ALERT_MORE, "children"), prop(ids.GRID_ALERTS, "rowData"),
    prop(ids.GRID_LATE, "rowData"), prop(ids.OVERVIEW, "children"),
)
#: The controls the live tick reads: the value field (header, KPIs) and every tick panel's.
TICK_INPUTS: tuple[str, ...] = tuple(dict.fromkeys(
    (ids.VALUE_FIELD, *(c for panel in TICK_PANELS for c in panel.inputs))))


def digest(value: Any) -> str:
    """A short fingerprint of JSON-able ``value`` (the browser keeps it instead of the value)."""
    blob = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()


def header(live: LiveView, state: Any, value_field: str,
           refresh: float | None) -> tuple[Outputs, Any]:
    """Status badge (its hover text names the firing alerts), effective interval, last
    update, stale / no-new-data banner and KPI cards (when any of them changed)."""
    s = live.summary(value_field, refresh)
    # The texts and their digest are built once per summary (the same object for every viewer
    # of one data version), not once per request.
    out, new = live.shared(f"header:{value_field}", s, lambda: _header_texts(s))
    return ({} if new == state else out), new


def _header_texts(s: dict[str, Any]) -> tuple[Outputs, str]:
    k = kpi_texts(s)
    text, color = status_badge(s["status"])
    out = {prop(ids.STATUS_BADGE, "children"): text, prop(ids.STATUS_BADGE, "color"): color,
           prop(ids.STATUS_BADGE, "title"): s["status_reasons"],
           prop(ids.POLL_INTERVAL, "children"): s["interval"],
           prop(ids.LAST_UPDATE, "children"): s["updated"],
           prop(ids.STALE_WARNING, "children"): s["stale"] or "",
           prop(ids.STALE_WARNING, "is_open"): bool(s["stale"]),
           prop(ids.STALE_WARNING, "color"): s["stale_color"],
           **{prop(ids.kpi(kpi_id), "children"): k[kpi_id] for kpi_id, _ in KPI_IDS}}
    return out, digest(out)


def panels(live: LiveView, state: Any, inputs: Inputs) -> tuple[Outputs, Any]:
    """The charts of the live tick (``TICK_PANELS``), each sent only when its data changed;
    the state keeps each panel's own, by panel id."""
    state = state if isinstance(state, dict) else {}
    out: Outputs = {}
    new: dict[str, Any] = {}
    for panel in TICK_PANELS:
        update = panel.snapshot(live, state.get(panel.id), inputs, panel.figure)
        new[panel.id] = state.get(panel.id) if update is None else update["state"]
        out.update(panel.sent(update))
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
        out[prop(ids.GRID_LATEST, "rowData")] = rows
    if "cols" in changed:
        out[prop(ids.GRID_LATEST, "columnDefs")] = cols
    if "quarantine" in changed:
        out[prop(ids.GRID_QUARANTINE, "rowData")] = live.quarantine_rows()
    if "errors" in changed:
        out[prop(ids.GRID_ERRORS, "rowData")] = live.error_rows()
    if "late" in changed:
        out[prop(ids.GRID_LATE, "rowData")] = live.late_rows()
    if "fields" in changed:
        out[prop(ids.VALUE_FIELD, "options")], out[prop(ids.KEY_FIELD, "options")] = map(
            field_options, new["fields"])
    return out, new


def alert_banners(live: LiveView, state: Any) -> tuple[Outputs, Any]:
    """The firing-alert banner slots (severity colour, rule, value vs threshold, since) and
    the alert history table."""
    state = state or {}
    active, history = live.alerts(live.options.table_rows)
    # The banners say how long ago an alert began (whole seconds): built once per second and
    # per alerts snapshot for every viewer.
    now = live.state.clock()
    banners, banners_digest = live.shared("alert-banners", (active, int(now)),
                                          lambda: _banners(active, now))
    new = {"banners": banners_digest,
           "history": [live.epoch, len(history), history[0]["at"] if history else None]}
    out: Outputs = {} if new["banners"] == state.get("banners") else banners
    if new["history"] != state.get("history"):
        out = {**out, prop(ids.GRID_ALERTS, "rowData"): alerts.history_rows(history)}
    return out, new


def _banners(active: list[dict[str, Any]], now: float) -> tuple[Outputs, str]:
    slots, more = alerts.banner_slots(active, now, ALERT_SLOTS)
    out: Outputs = {prop(ids.ALERT_MORE, "children"): more}
    for i, (is_open, color, text) in enumerate(slots):
        slot = ids.alert_slot(i)
        out.update({prop(slot, "is_open"): is_open, prop(slot, "color"): color,
                    prop(slot, "children"): text})
    return out, digest(out)


def overview(streams: StreamViews, state: Any, chosen: str) -> tuple[Outputs, Any]:
    """The streams overview (a row per stream, ``chosen`` marked), when it changed; built
    once per overview (at most once a second) and chosen stream for every viewer."""
    lines = streams.overview()
    rows, new = streams.shared.get(chosen, lines, lambda: _overview(lines, chosen))
    if new == state:
        return {}, new
    return {prop(ids.OVERVIEW, "children"): rows}, new


def _overview(lines: list[dict[str, Any]], chosen: str) -> tuple[list[Any], str]:
    cells = overview_cells(lines)
    return as_json(overview_rows(cells, chosen)), digest([cells, chosen])


def tick(live: LiveView, state: dict[str, Any] | None, inputs: Inputs,
         refresh: float | None, streams: StreamViews | None = None,
         chosen: str = "") -> tuple[Outputs, dict[str, Any]]:
    """Everything but the time series that one tick sends to one browser, and its new state.

    (The time series has its own callback so its incremental update stays one small request.)
    A state store that does not answer (``StateUnavailable``) is shown as such, once, instead
    of the last figures (``unavailable.tick_outputs``); the next tick after it answers again
    sends everything.
    """
    state = state or {}
    out: Outputs = {}
    new: dict[str, Any] = {}
    try:
        for name, (part, params) in {
            "header": (header, (inputs.value_field, refresh)),
            "panels": (panels, (inputs,)),
            "tables": (tables, ()),
            "alerts": (alert_banners, ()),
        }.items():
            part_out, new[name] = part(live, state.get(name), *params)
            out.update(part_out)
        if streams is not None:  # after the stream's own parts: they say when it is away
            part_out, new["overview"] = overview(streams, state.get("overview"), chosen)
            out.update(part_out)
    except StateUnavailable as exc:
        new = {"unavailable": str(exc)}
        return ({} if state == new else unavailable.tick_outputs(str(exc))), new
    return out, new
