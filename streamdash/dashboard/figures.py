"""Pure functions that turn runtime snapshots into what the dashboard shows.

Nothing here reads the runtime or Dash state: every function takes plain values and returns
plain values (texts, Plotly figure dicts, ``extendData`` payloads), so each is testable alone.
Texts that came from the stream (keys, field names) go through :func:`plot_text` before Plotly
sees them, because Plotly interprets a few HTML-like tags in trace names and titles.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ..models import utc_iso

#: Colours of the status badge (Bootstrap contextual colours).
STATUS_COLORS = {"ok": "success", "degraded": "warning", "down": "danger"}
#: Quality rates charted, in trace order: (the quality monitor's metric, legend label).
QUALITY_SERIES = (("invalid_rate", "invalid %"), ("duplicate_rate", "duplicate %"),
                  ("late_rate", "late %"), ("null_rate", "null %"))
#: How many refresh intervals without new records make the data stale.
STALE_AFTER_INTERVALS = 3
HISTOGRAM_BINS = 30


# -- small formatting helpers --------------------------------------------------------------------
def is_number(v: Any) -> bool:
    """True for finite ints and floats (not bools, not NaN/inf)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def fmt_number(v: float | None, digits: int = 2) -> str:
    """``1,234.57`` or ``–`` for no value."""
    return "–" if v is None else f"{v:,.{digits}f}"


def fmt_pct(v: float | None) -> str:
    """A fraction as a percentage (``0.0123`` → ``1.23 %``) or ``–``."""
    return "–" if v is None else f"{100 * v:.2f} %"


def plot_text(text: Any) -> str:
    """Text safe for Plotly labels: its HTML-like tags are escaped so they show literally."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def epoch_of(value: Any) -> float | None:
    """Epoch seconds from epoch numbers or ISO-8601 text (``Z`` or offset); else ``None``."""
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return dt.timestamp() if dt.tzinfo else None
    return None


def iso_of(value: Any) -> str | None:
    """An ISO-8601 UTC text for an epoch number; ISO text passes through unchanged."""
    if is_number(value):
        return utc_iso(float(value))
    return value if isinstance(value, str) else None


# -- header ----------------------------------------------------------------------------------------
def last_update_text(last: float | None, now: float) -> str:
    """``2026-01-02T03:04:05.678Z (3 s ago)`` or ``never``."""
    if last is None:
        return "never"
    return f"{utc_iso(last)} ({max(0, int(now - last))} s ago)"


def status_badge(status: str) -> tuple[str, str]:
    """Badge text and Bootstrap colour for a runtime health status."""
    return status.upper(), STATUS_COLORS.get(status, "secondary")


def freshness_message(last_fetch: float | None, last_new: float | None, since: float | None,
                      now: float, interval: float) -> tuple[str, str] | None:
    """The banner on how fresh the data is, as (text, Bootstrap colour), or ``None`` if fresh.

    ``last_fetch`` is the last successful fetch, ``last_new`` when new records last arrived,
    ``since`` when the runtime started, ``interval`` the effective interval. Stale (warning)
    means no successful fetch for more than 3 intervals — the same limit as the
    ``source_down`` alert. A source that answers without new records (``304 Not Modified``, a
    snapshot feed with nothing new) is up: after 3 intervals the banner says "no new data"
    (info), never "stale".
    """
    limit = STALE_AFTER_INTERVALS * interval
    of = f"more than {STALE_AFTER_INTERVALS} intervals of {interval:g} s"
    fetch_ref = last_fetch if last_fetch is not None else since
    if fetch_ref is not None and now - fetch_ref > limit:
        if last_fetch is None:
            return (f"Data is stale: no successful fetch in the {int(now - fetch_ref)} s since "
                    f"the start ({of}).", "warning")
        return (f"Data is stale: no successful fetch for {int(now - fetch_ref)} s ({of}).",
                "warning")
    new_ref = last_new if last_new is not None else since
    if new_ref is None or now - new_ref <= limit:
        return None
    answers = "" if last_fetch is None else \
        f"; the source answers (last successful fetch {max(0, int(now - last_fetch))} s ago)"
    if last_new is None:
        return (f"No new data since the start: no records received in {int(now - new_ref)} s"
                f"{answers}.", "info")
    return (f"No new data since {utc_iso(last_new)}: no new records for {int(now - new_ref)} s"
            f"{answers}.", "info")


#: How the header explains an interval that is not the configured one (``Cadence.reason``).
INTERVAL_REASONS = {"min_interval": "the source's minimum",
                    "server": "as the server asks: Cache-Control / Retry-After"}


def interval_text(interval: float, reason: str = "") -> str:
    """The header's ``polling every 60 s`` (with why, when it is not the configured value)."""
    why = INTERVAL_REASONS.get(reason)
    return f"polling every {interval:g} s" + (f" ({why})" if why else "")


def refresh_props(value: float | None) -> tuple[int, int]:
    """``dcc.Interval`` (interval ms, max_intervals) for a refresh choice; 0/None pauses."""
    if not value:
        return 3_600_000, 0
    return int(max(float(value), 0.1) * 1000), -1


# -- KPI cards -------------------------------------------------------------------------------------
def kpi_texts(summary: dict[str, Any]) -> dict[str, str]:
    """Formatted KPI card texts from a view summary (see ``LiveView.summary``)."""
    alerts = summary.get("active_alerts")
    return {
        "total": f"{summary['records_in']:,}",
        "rate": "–" if summary.get("rate") is None else f"{summary['rate']:,.1f}",
        "latest": fmt_number(summary.get("latest")),
        "mean": fmt_number(summary.get("mean")),
        "invalid": fmt_pct(summary.get("invalid")),
        "duplicate": fmt_pct(summary.get("duplicate")),
        "late": fmt_pct(summary.get("late")),
        "errors": f"{summary.get('errors_5min', 0):,}",
        "alerts": "–" if alerts is None else f"{alerts:,}",
    }


def count_since(items: Iterable[dict[str, Any]], since: float, field: str = "at") -> int:
    """How many items have a time (epoch or ISO text in ``field``) at or after ``since``."""
    return sum(1 for i in items if (t := epoch_of(i.get(field))) is not None and t >= since)


# -- time series -----------------------------------------------------------------------------------
def series_action(state: dict[str, Any] | None, epoch: str, server_seq: int, value_field: str,
                  key_field: str) -> str:
    """What a client needs: ``reset`` (full figure), ``extend`` (new points) or ``none``.

    The client must be reset when it has nothing yet, watched another server (``epoch``, e.g.
    before a restart), changed fields, or holds a sequence number *ahead* of the server's.
    """
    if not state or state.get("epoch") != epoch or state.get("fields") != [value_field, key_field]:
        return "reset"
    seq = state.get("seq", 0)
    if seq > server_seq:
        return "reset"
    return "none" if seq == server_seq else "extend"


def group_points(items: Sequence[tuple[int, dict[str, Any]]], value_field: str, key_field: str,
                 time_field: str) -> dict[str, tuple[list[Any], list[Any]]]:
    """``(seq, record)`` items → ``{key: (xs, ys)}`` in order of first appearance.

    x is the record's time field (or its sequence number when no time field is known); y is
    the value when numeric, else ``None`` (a gap, so nulls stay visible as breaks).
    """
    groups: dict[str, tuple[list[Any], list[Any]]] = {}
    isfinite = math.isfinite
    for seq, rec in items:  # the per-tick hot loop: plain type checks, no helper calls
        key = str(rec.get(key_field, "")) if key_field else value_field
        group = groups.get(key)
        if group is None:
            group = groups[key] = ([], [])
        group[0].append(rec.get(time_field) if time_field else seq)
        v = rec.get(value_field)
        group[1].append(v if (type(v) is float or type(v) is int) and isfinite(v) else None)
    return groups


def series_figure(groups: dict[str, tuple[list[Any], list[Any]]], value_field: str,
                  key_field: str) -> dict[str, Any]:
    """The whole time-series figure: one line per key, in ``groups`` order."""
    data = [{"type": "scatter", "mode": "lines", "name": plot_text(key), "x": xs, "y": ys,
             "line": {"width": 1.5}, "connectgaps": False}
            for key, (xs, ys) in groups.items()]
    title = plot_text(value_field) + (f" by {plot_text(key_field)}" if key_field else "")
    return {"data": data, "layout": _layout(title, f"{value_field}|{key_field}", showlegend=True,
                                            yaxis={"title": {"text": plot_text(value_field)}})}


def series_extend(groups: dict[str, tuple[list[Any], list[Any]]], keys: Sequence[str],
                  max_points: int) -> list[Any] | None:
    """The ``extendData`` payload for new points, or ``None`` when a key has no trace yet."""
    index = {k: i for i, k in enumerate(keys)}
    if any(k not in index for k in groups):
        return None
    order = list(groups)
    return [{"x": [groups[k][0] for k in order], "y": [groups[k][1] for k in order]},
            [index[k] for k in order], max_points]


def points_per_trace(capacity: int, n_keys: int) -> int:
    """Points each trace keeps so the chart holds about what the buffer holds."""
    return max(100, math.ceil(capacity / max(1, n_keys)))


# -- window aggregates -----------------------------------------------------------------------------
def windows_figure(windows: Sequence[dict[str, Any]], field: str | None) -> dict[str, Any]:
    """Window means per key with a shaded min–max band (windows oldest first).

    ``field`` names the aggregated field when known (the window rule, not the value picker,
    decides what is aggregated).
    """
    by_key: dict[str, list[dict[str, Any]]] = {}
    for w in windows:
        by_key.setdefault(str(w.get("key", "")), []).append(w)
    data: list[dict[str, Any]] = []
    for i, (key, ws) in enumerate(by_key.items()):
        color = PALETTE[i % len(PALETTE)]
        xs = [iso_of(w.get("end")) for w in ws]
        name = plot_text(key) or "all"
        common = {"type": "scatter", "x": xs, "legendgroup": name, "hoverinfo": "skip",
                  "showlegend": False, "mode": "lines", "line": {"width": 0}}
        data.append({**common, "name": f"{name} min", "y": [w.get("min") for w in ws]})
        data.append({**common, "name": f"{name} max", "y": [w.get("max") for w in ws],
                     "fill": "tonexty", "fillcolor": _alpha(color, 0.18)})
        data.append({"type": "scatter", "mode": "lines+markers", "name": name, "x": xs,
                     "legendgroup": name, "y": [w.get("mean") for w in ws],
                     "line": {"color": color, "width": 2}, "marker": {"size": 4},
                     "customdata": [[w.get("count"), w.get("p95")] for w in ws],
                     "hovertemplate": "mean %{y:.2f}<br>n %{customdata[0]} · p95 "
                                      "%{customdata[1]:.2f}<extra>" + name + "</extra>"})
    what = f" of {plot_text(field)}" if field else " per key"
    layout = _layout(f"Window mean{what} (band: min–max)", "windows")
    if not data:
        _empty(layout, "No closed windows yet: a window closes when the watermark passes its end")
    return {"data": data, "layout": layout}


# -- data quality ----------------------------------------------------------------------------------
def quality_figure(series: dict[str, list[Any]],
                   thresholds: dict[str, list[tuple[str, str, float, str]]]) -> dict[str, Any]:
    """Quality rates (%) over time, with every alert threshold on them as a dashed line.

    ``series`` is column-wise like ``QualityMonitor.series()`` (``at`` ISO times and one list of
    fractions per metric); ``thresholds`` is ``QualityMonitor.thresholds()``.
    """
    colors = {m: PALETTE[i] for i, (m, _) in enumerate(QUALITY_SERIES)}
    data = [{"type": "scatter", "mode": "lines", "name": label, "x": list(series.get("at", [])),
             "y": _percent(_column(series, metric)), "line": {"color": colors[metric],
                                                             "width": 1.5}}
            for metric, label in QUALITY_SERIES]
    layout = _layout("Data quality (% over the alert window)", "quality",
                     yaxis={"title": {"text": "%"}, "rangemode": "tozero"})
    lines = [(m, name, op, thr) for m, _ in QUALITY_SERIES for name, op, thr, _sev
             in thresholds.get(m, ())]
    layout["shapes"] = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y",
                         "y0": 100 * thr, "y1": 100 * thr,
                         "line": {"dash": "dash", "width": 1, "color": colors[m]}}
                        for m, _, _, thr in lines]
    layout["annotations"] = [{"xref": "paper", "x": 1, "xanchor": "right", "yref": "y",
                              "y": 100 * thr, "yanchor": "bottom", "showarrow": False,
                              "text": f"{plot_text(name)} {op} {100 * thr:g} %",
                              "font": {"size": 10, "color": colors[m]}}
                             for m, name, op, thr in lines]
    return {"data": data, "layout": layout}


def quality_extend(series: dict[str, list[Any]], since_ts: float,
                   max_points: int) -> list[Any] | None:
    """``extendData`` for the quality points newer than ``since_ts`` (``None`` when none)."""
    start = bisect.bisect_right(series.get("ts", []), since_ts)
    if start >= len(series.get("ts", [])):
        return None
    xs = series["at"][start:]
    return [{"x": [xs] * len(QUALITY_SERIES),
             "y": [_percent(_column(series, m)[start:]) for m, _ in QUALITY_SERIES]},
            list(range(len(QUALITY_SERIES))), max_points]


def _column(series: dict[str, list[Any]], metric: str) -> list[Any]:
    # A metric the monitor does not compute yet is all gaps, as long as the time axis.
    return series.get(metric) or [None] * len(series.get("ts", []))


def _percent(values: Sequence[float | None]) -> list[float | None]:
    return [None if v is None else round(100 * v, 3) for v in values]


# -- histogram -------------------------------------------------------------------------------------
def histogram_figure(values: Sequence[float], value_field: str,
                     bins: int = HISTOGRAM_BINS) -> dict[str, Any]:
    """A histogram of recent values, binned here so the browser gets ``bins`` bars only."""
    layout = _layout(f"Recent {plot_text(value_field)} values (n = {len(values):,})",
                     "histogram", bargap=0.05)
    if not values:
        _empty(layout, "No numeric values yet")
        return {"data": [], "layout": layout}
    lo, hi = min(values), max(values)
    width = (hi - lo) / bins or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / width))] += 1
    centers = [round(lo + (i + 0.5) * width, 6) for i in range(bins)]
    data = [{"type": "bar", "x": centers, "y": counts, "width": width,
             "marker": {"color": PALETTE[0]}, "name": plot_text(value_field),
             "hovertemplate": "%{x:.2f}: %{y}<extra></extra>"}]
    return {"data": data, "layout": layout}


# -- pipeline history (persisted snapshots) ------------------------------------------------------
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
    stacked panels share the time axis, fixed to ``[since, until]`` so time without snapshots
    (before the first run, while the app was down) shows as empty. Two snapshots further apart
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
    layout = _layout(title, "history", height=460,
                     xaxis={"gridcolor": "#eee", "type": "date", "anchor": "y3",
                            "range": [round(since * 1000), round(until * 1000)]})
    for n, (axis_title, domain) in enumerate(HISTORY_PANELS, start=1):
        layout["yaxis" if n == 1 else f"yaxis{n}"] = {
            "domain": list(domain), "title": {"text": axis_title, "font": {"size": 11}},
            "rangemode": "tozero", "gridcolor": "#eee", "anchor": "x"}
    layout["legend"] = {"orientation": "h", "y": -0.12}
    if total == 0:
        layout["annotations"] = [_empty_note("No metrics snapshots in this range yet")]
    return {"data": data, "layout": layout}


# -- shared ----------------------------------------------------------------------------------------
PALETTE = ("#0d6efd", "#fd7e14", "#198754", "#6f42c1", "#d63384", "#20c997", "#6c757d",
           "#ffc107", "#0dcaf0", "#dc3545")


def _alpha(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _empty(layout: dict[str, Any], text: str) -> None:
    """Mark an empty chart: a centred note instead of meaningless axes."""
    layout["annotations"] = [_empty_note(text)]
    layout["xaxis"] = {"visible": False}
    layout["yaxis"] = {"visible": False}


def _empty_note(text: str) -> dict[str, Any]:
    return {"text": text, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
            "showarrow": False, "font": {"color": "#6c757d"}}


def _layout(title: str, revision: str, **extra: Any) -> dict[str, Any]:
    # uirevision keeps the user's zoom and legend choices across updates of the same chart.
    return {"title": {"text": title, "font": {"size": 14}, "x": 0.01, "xanchor": "left"},
            "uirevision": revision,
            "margin": {"l": 50, "r": 10, "t": 40, "b": 40}, "height": 320,
            "legend": {"orientation": "h", "y": -0.2}, "paper_bgcolor": "#fff",
            "plot_bgcolor": "#fff", "xaxis": {"gridcolor": "#eee"}, **extra}
