"""The pipeline-history chart: persisted snapshots downsampled over a range, gaps kept."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import dash_bootstrap_components as dbc

from .. import ids
from ..options import DEFAULT_HISTORY_RANGE, HISTORY_RANGES
from ..panel import Figure, Inputs, Panel, Update
from ..values import is_number, plot_text
from .common import PALETTE, TIME_HOVERFORMAT, TIME_TICKFORMATSTOPS, chart_layout, empty_note

if TYPE_CHECKING:
    from ..live import LiveView

#: The chart, its own slower timer (about the snapshot interval), the store of the version its
#: browser shows, and its range buttons.
CHART_HISTORY = "chart-history"
HISTORY_TICK = "history-tick"
HISTORY_STATE = "history-state"
HISTORY_RANGE = "history-range"

#: Snapshot fields charted (``reporter.SNAPSHOT_FIELDS`` names): (field, legend label, panel,
#: scale, how a downsampling bucket is reduced). Panels: 0 records/s, 1 latency ms, 2 rates %.
#: Latency keeps the bucket's peak so a short spike still shows on a day-long range.
HISTORY_SERIES = (("throughput_in", "in (records/s)", 0, 1.0, "mean"),
                  ("throughput_out", "out (records/s)", 0, 1.0, "mean"),
                  ("latency_p95", "end-to-end p95 (ms)", 1, 1000.0, "max"),
                  ("invalid_rate", "invalid %", 2, 100.0, "mean"),
                  ("duplicate_rate", "duplicate %", 2, 100.0, "mean"),
                  ("late_rate", "late %", 2, 100.0, "mean"),
                  ("error_rate", "fetch errors %", 2, 100.0, "mean"))
HISTORY_PANELS = (("records/s", (0.69, 1.0)), ("p95 latency (ms)", (0.36, 0.64)),
                  ("rate (%)", (0.0, 0.31)))
#: Most points per series a history chart holds (whatever the range).
HISTORY_POINTS = 500
#: The history axis spans at least this many seconds, and starts this fraction of its span
#: before the oldest snapshot shown.
MIN_HISTORY_SPAN = 60.0
HISTORY_PAD = 0.02
#: Snapshots further apart than this many snapshot intervals mean the app was down (a gap).
GAP_INTERVALS = 2.5


def downsample(points: Sequence[tuple[float, Any]], since: float, until: float,
               max_points: int = HISTORY_POINTS, gap: float = 0.0, how: str = "mean",
               spans: dict[float, float] | None = None) -> tuple[list[float], list[float | None]]:
    """``(ts, value)`` points oldest first → ``(xs, ys)`` with at most ``max_points + 1`` points.

    The range is cut into ``max_points`` equal buckets; the points of a bucket become one (mean
    time, mean or max value; ``None`` values are skipped, a bucket of only ``None`` gives
    ``None``). Two points too far apart are separated by a ``None`` point, so a line breaks
    where the app was down instead of joining across it: too far is more than
    ``GAP_INTERVALS`` times the snapshot interval the two points recorded (``spans``: ts →
    ``interval_s``; the snapshots' own interval, right even when earlier runs used another
    one), else more than ``gap`` seconds, and always more than two buckets. Every gap so
    crosses an empty bucket, hence the bound on the result.
    """
    width = max((until - since) / max(1, max_points), 1e-9)
    spans = spans or {}

    def too_far(a: float, b: float) -> bool:
        span = max(spans.get(a, 0.0), spans.get(b, 0.0))
        return b - a > max(GAP_INTERVALS * span if span > 0 else gap, 2 * width)
    xs: list[float] = []
    ys: list[float | None] = []
    bucket: int | None = None
    times: list[float] = []
    values: list[float] = []
    prev: float | None = None

    def flush() -> None:
        if times:
            xs.append(sum(times) / len(times))
            ys.append(None if not values else
                      max(values) if how == "max" else sum(values) / len(values))
        times.clear()
        values.clear()

    for ts, v in points:
        if ts < since or ts > until:
            continue
        b = int((ts - since) / width)
        if prev is not None and too_far(prev, ts):
            flush()
            xs.append((prev + ts) / 2)
            ys.append(None)
        elif b != bucket:
            flush()
        bucket, prev = b, ts
        times.append(ts)
        if is_number(v):
            values.append(float(v))
    flush()
    return xs, ys


def history_figure(series: dict[str, Sequence[tuple[float, Any]]], since: float, until: float,
                   *, gap: float = 0.0, max_points: int = HISTORY_POINTS,
                   note: str = "") -> dict[str, Any]:
    """The pipeline-history chart: throughput, p95 latency and quality rates over a range.

    ``series`` is ``Runtime.metric_history()``'s answer (``field → [(ts, value), …]``); three
    stacked panels share the time axis, ending at ``until`` so time without snapshots
    (while the app was down) shows as empty; the axis starts at the oldest snapshot in the
    range (at least :data:`MIN_HISTORY_SPAN` before ``until``), so a run younger than the range
    fills the chart instead of a sliver at its right edge. Two snapshots further apart
    than ``GAP_INTERVALS`` times their ``interval_s`` (when ``series`` has it, else ``gap``
    seconds) are not joined (see :func:`downsample`); ``note`` (plain text) goes under the
    title, e.g. where the history comes from.
    """
    data: list[dict[str, Any]] = []
    total = 0
    spans = {ts: float(v) for ts, v in series.get("interval_s", ()) if is_number(v)}
    for i, (field, label, panel, scale, how) in enumerate(HISTORY_SERIES):
        xs, ys = downsample(series.get(field, ()), since, until, max_points, gap, how, spans)
        total += sum(1 for y in ys if y is not None)
        data.append({"type": "scatter", "mode": "lines+markers", "name": label,
                     # Epoch milliseconds (a date axis reads them as UTC): half the bytes of
                     # ISO texts, and this figure is re-sent every refresh period.
                     "x": [round(x * 1000) for x in xs],
                     "y": [None if y is None else round(y * scale, 3) for y in ys],
                     "yaxis": "y" if panel == 0 else f"y{panel + 1}", "connectgaps": False,
                     "line": {"width": 1.5, "color": PALETTE[i % len(PALETTE)]},
                     "marker": {"size": 3}})
    title = "Pipeline history" + (f" <span style='font-size:11px;color:#6c757d'>"
                                  f"{plot_text(note)}</span>" if note else "")
    firsts = [t["x"][0] / 1000 for t in data if t["x"]]
    start = max(since, min([*firsts, until - MIN_HISTORY_SPAN])) if firsts else since
    start = max(since, start - HISTORY_PAD * (until - start))  # the first marker in full
    layout = chart_layout(title, "history", height=460,
                          xaxis={"gridcolor": "#eee", "type": "date", "anchor": "y3",
                                 "tickformatstops": TIME_TICKFORMATSTOPS,
                                 "hoverformat": TIME_HOVERFORMAT,
                                 "range": [round(start * 1000), round(until * 1000)]})
    for n, (axis_title, domain) in enumerate(HISTORY_PANELS, start=1):
        layout["yaxis" if n == 1 else f"yaxis{n}"] = {
            "domain": list(domain), "title": {"text": axis_title, "font": {"size": 11}},
            "rangemode": "tozero", "gridcolor": "#eee", "anchor": "x"}
    layout["legend"] = {"orientation": "h", "y": -0.12}
    if total == 0:
        layout["annotations"] = [empty_note("No metrics snapshots in this range yet")]
    return {"data": data, "layout": layout}


def snapshot(live: LiveView, state: Any, inputs: Inputs, figure: Callable[..., Figure]
             ) -> Update | None:
    """The persisted snapshots over the chosen range, read once per refresh period."""
    version, fig = live.history(inputs.choices.get(HISTORY_RANGE), figure)
    return None if version == state else {"figure": fig, "state": version}


def known_range(label: Any) -> str:
    """The range label a browser sent when it is one of ``HISTORY_RANGES``, else the default
    (it comes from the browser, and keys a cache)."""
    return label if isinstance(label, str) and label in HISTORY_RANGES else DEFAULT_HISTORY_RANGE


def range_picker() -> dbc.RadioItems:
    """The chart's range buttons (15 min … 24 h), in its card header."""
    return dbc.RadioItems(id=HISTORY_RANGE, value=DEFAULT_HISTORY_RANGE, inline=True,
                          options=[{"label": r, "value": r} for r in HISTORY_RANGES],
                          className="btn-group", inputClassName="btn-check",
                          labelClassName="btn btn-outline-secondary btn-sm",
                          labelCheckedClassName="active")


#: Its own request on its own timer: it reads the persisted store, never on the 1 s tick.
PANEL = Panel(CHART_HISTORY, "Pipeline history", snapshot, history_figure, order=50, width=12,
              height=460, inputs=(HISTORY_RANGE,), store=HISTORY_STATE, timer=HISTORY_TICK,
              controls=range_picker, choices={HISTORY_RANGE: known_range},
              value_types={ids.prop(HISTORY_RANGE, "value"): (str,),
                           ids.prop(HISTORY_STATE, "data"): (str,),
                           ids.prop(HISTORY_TICK, "n_intervals"): (int,)})
