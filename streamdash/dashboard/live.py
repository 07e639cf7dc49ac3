"""The dashboard's view of one stream: incremental, cached snapshots shared by every viewer.

Callbacks never walk the whole buffer per tick. :class:`LiveView` follows the stream's records
by sequence number (O(new records) per update), keeps running sums per value field, reads data
quality and alerts from the stream's quality view, and caches what all viewers share for the
current data version, computed once under a lock (many concurrent viewers → one computation, no
pile-up). Per-browser state (the last sequence number it holds) lives in the browser.

It reads only through the stream's :class:`~streamdash.state.base.StreamState` (``self.state``):
the runtime of this process (``memory``) or what a worker published (``redis``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ..errors import StateUnavailable
from ..runtime import Runtime
from ..state import StreamState, as_stream, window_spec
from ..store.history import StorageUnavailable
from . import tables, unavailable
from .figures import series as series_chart
from .figures.history import GAP_INTERVALS, HISTORY_POINTS, HISTORY_SERIES, history_figure
from .figures.quality import QUALITY_SERIES, quality_extend, quality_figure
from .figures.windows import window_lag_note
from .options import DEFAULT_HISTORY_RANGE, HISTORY_RANGES, DashboardOptions
from .rolling import RollingValues
from .shared import SharedValues
from .texts import count_since, freshness_message, interval_text, last_update_text
from .values import is_number

#: A pure figure function (``figures/``): plain values in, a Plotly figure dict out.
FigureFn = Callable[..., dict[str, Any]]
#: Seconds covered by the ingestion-error KPI.
RECENT_WINDOW = 300.0
#: Quality metrics charted, in trace order (names of the monitor's metrics).
QUALITY_METRICS = tuple(m for m, _ in QUALITY_SERIES)
#: Records sampled to find key-field candidates, and most distinct values a key may have.
KEY_SAMPLE, MAX_KEYS = 200, 30
#: Value fields whose running sums are kept at once (least recently used one is dropped).
MAX_TRACKED_FIELDS = 8
#: Shared snapshots cached at once (least recently used dropped). Keys name a view and its
#: fields — about 8 views × the fields in use — so 64 holds every live one; the bound is what
#: stops client-chosen names from growing memory (issue 13: 150 requests, +1.2 GB).
MAX_CACHED = 64
#: The shortest history-chart refresh period (s), whatever the snapshot interval.
HISTORY_REFRESH_FLOOR = 2.0


def history_refresh(snapshot_interval: float, range_seconds: float = 0.0) -> float:
    """Seconds between history-chart refreshes: the snapshot interval or, for a long range,
    one chart bucket, kept within 2–60 s (no point re-reading the store faster than new
    snapshots or new buckets appear, nor waiting over a minute). The 2 s floor bounds the
    history requests of every open page when snapshots are taken faster than that."""
    bucket = range_seconds / HISTORY_POINTS
    return min(60.0, max(HISTORY_REFRESH_FLOOR, snapshot_interval, bucket))


def window_note(runtime: Any) -> str:
    """Why the window card trails the live chart, from the runtime's (first) window rule."""
    return stream_window_note(window_spec(runtime.processor))


def stream_window_note(spec: tuple[float, float, float] | None) -> str:
    """Why the window card trails the live chart, from a stream's window rule
    (``StreamInfo.window``: size, lateness, idle timeout; ``None``: none)."""
    return window_lag_note(*spec) if spec is not None else window_lag_note(None)


class LiveView:
    """Snapshots of one stream's ``state`` for the dashboard, shared by all viewers of one app.

    ``state`` is a :class:`~streamdash.state.base.StreamState` (a ``Runtime`` is read in place
    as its memory state). ``epoch`` identifies the state: a client that saw another one (the
    server restarted, the state store lost its data) is reset; it is the same in every web
    process reading one store. Per-client state (the last sequence number a browser holds)
    lives in the browser's ``dcc.Store``; this object only keeps what every viewer shares.
    """

    def __init__(self, state: StreamState | Runtime, options: DashboardOptions):
        self.state: StreamState = as_stream(state)
        self.options = options
        self._cache = SharedValues(MAX_CACHED)
        # The cache's (reentrant) lock: a figure built under it may read rolling values.
        self._lock = self._cache.lock
        self._fields: OrderedDict[str, RollingValues] = OrderedDict()
        # New time-series points by (fields, the sequence number a viewer holds): its own
        # bound, so made-up numbers evict only each other, never the snapshots above.
        self._extends = SharedValues(options.shared_extends)
        self._history_lock = threading.Lock()
        self._history_cache: dict[str, tuple[str, dict[str, Any]]] = {}

    @property
    def epoch(self) -> str:
        """The state's epoch (see the class docstring)."""
        return self.state.epoch

    @property
    def runtime(self) -> Runtime | None:
        """The runtime behind a memory state (the all-in-one app and the tests feed it);
        ``None`` in a web process. The view itself never reads it."""
        return getattr(self.state, "runtime", None)

    # -- shared, cached snapshots ------------------------------------------------------------------
    def shared(self, name: str, key: Any, build: Callable[[], Any]) -> Any:
        """The value cached under ``name`` for ``key``, built once (under the lock) when stale:
        every viewer asking for the same version gets the same object, computed once."""
        return self._cache.get(name, key, build)

    def known_field(self, name: Any) -> str | None:
        """``name`` when it is a field the schema, the source or the data has, else ``None``:
        field names come from the browser, and only known ones may key a cache or a chart."""
        if not isinstance(name, str) or not name:
            return None
        info, opts = self.state.info(), self.options
        hints = info.hints
        if name in (opts.value_field, opts.key_field, hints.value_field, hints.key_field) \
                or name in hints.numeric_fields or name in info.schema_fields:
            return name
        numeric, keys = self.field_names()
        return name if name in numeric or name in keys else None

    def _rolling(self, field: str) -> RollingValues:
        """The running values of ``field``, synced with the buffer (caller holds the lock)."""
        records = self.state.records
        rv = self._fields.pop(field, None) or RollingValues(field, records.capacity)
        self._fields[field] = rv
        while len(self._fields) > MAX_TRACKED_FIELDS:
            self._fields.popitem(last=False)
        rv.sync(records)
        return rv

    @property
    def monitor(self) -> Any:
        """The stream's quality view (its monitor's read API), or ``None`` when it has none."""
        return self.state.quality

    def summary(self, value_field: str, refresh: float | None) -> dict[str, Any]:
        """Header and KPI figures for ``value_field`` (recomputed at most once a second).

        The data counts as stale after 3 intervals without a successful fetch (and as "no new
        data" after 3 intervals without new records), the interval being the longer of the
        stream's effective fetch interval and the viewer's refresh.
        """
        now = self.state.clock()
        # The stream's pulse (fetch interval, last success) is read in the build too: once a
        # second, not once a request.
        key = (self.state.records.last_seq, value_field, refresh or 0, int(now))
        return self.shared(f"summary:{value_field}", key,
                            lambda: self._summary(value_field, refresh or 0, now))

    def _summary(self, value_field: str, refresh: float, now: float) -> dict[str, Any]:
        st, monitor = self.state, self.monitor
        pulse = st.pulse()
        interval = max(pulse.interval, refresh)
        rv = self._rolling(value_field)
        rates = monitor.rates() if monitor is not None else {}
        last_new = st.metrics.gauge("last_stored_at")
        status = st.status()
        fresh = freshness_message(pulse.last_success, last_new, pulse.started_at, now, interval)
        return {"status": status.state, "status_reasons": status.hover_text(),
                "interval": interval_text(pulse.interval, pulse.interval_reason),
                "records_in": st.counts()["in"],
                "rate": rates.get("throughput"), "latest": rv.latest, "mean": rv.mean,
                "invalid": rates.get("invalid_rate"), "duplicate": rates.get("duplicate_rate"),
                "late": rates.get("late_rate"),
                "errors_5min": count_since(st.errors.recent(), now - RECENT_WINDOW),
                "active_alerts": len(monitor.active()) if monitor is not None else None,
                "updated": last_update_text(last_new, now),
                "stale": fresh[0] if fresh else None,
                "stale_color": fresh[1] if fresh else "warning"}

    def recent_values(self, value_field: str) -> list[float]:
        """The newest numeric values of ``value_field`` (``dashboard.histogram_points`` at most),
        oldest first."""
        with self._lock:
            return self._rolling(value_field).recent(self.options.histogram_points)

    def closed_windows(self) -> tuple[list[dict[str, Any]], str | None]:
        """The newest closed windows (``dashboard.chart_windows`` at most), oldest first, and
        the field they aggregate (``None`` before the first)."""
        items = self.state.windows.recent(self.options.chart_windows)
        items.reverse()
        return items, items[-1].get("field") if items else None

    def quality_series(self) -> tuple[dict[str, list[Any]], dict[str, Any], str]:
        """The monitor's recent quality metrics, its thresholds, and their signature."""
        monitor = self.monitor
        if monitor is None:
            return {"at": [], "ts": []}, {}, ""
        key = getattr(monitor, "evaluations", 0)
        return self.shared("quality", key, lambda: _quality_snapshot(
            monitor, self.options.quality_points))

    def quality(self, state: Any, figure: FigureFn = quality_figure) -> dict[str, Any] | None:
        """The quality chart update for a client: ``figure`` (reset, built by ``figure``) or
        ``extend``, or None."""
        series, thresholds, signature = self.quality_series()
        fresh = isinstance(state, dict) and state.get("epoch") == self.epoch \
            and state.get("sig") == signature and is_number(state.get("ts"))
        if fresh:
            ext = quality_extend(series, state["ts"], self.options.quality_points)
            if ext is None:
                return None
            return {"extend": ext, "state": {**state, "ts": series["ts"][-1]}}
        return {"figure": figure(series, thresholds),
                "state": {"epoch": self.epoch, "sig": signature,
                          "ts": series["ts"][-1] if series["ts"] else 0}}

    def history(self, range_label: str | None,
                figure: FigureFn = history_figure) -> tuple[str, dict[str, Any]]:
        """(version, pipeline-history figure built by ``figure``) for a range label
        (``HISTORY_RANGES``; unknown → ``DEFAULT_HISTORY_RANGE``).

        Reads the persisted snapshots (SQLite, earlier runs included; memory without a data
        dir) at most once per range per refresh period (``history_refresh``), shared by all
        viewers, so neither the 1 s tick nor many browsers multiply the queries. The version
        changes with the period: a browser that holds it needs nothing new.

        Freshness bound: a snapshot reaches a browser within two periods — the cached figure
        may have been read just before the snapshot was written, and is read again in the
        next period on the first history tick (which fires every period) after it began.
        """
        label = range_label if range_label in HISTORY_RANGES else DEFAULT_HISTORY_RANGE
        seconds, now = HISTORY_RANGES[label], self.state.clock()
        period = history_refresh(self.state.info().snapshot_interval, seconds)
        version = f"{self.epoch}|{label}|{int(now // period)}"
        # Its own lock: a slow disk read must not hold up the live ticks (they use ``_lock``).
        with self._history_lock:
            hit = self._history_cache.get(label)
            if hit is None or hit[0] != version:
                hit = (version, self._history(seconds, now, figure))
                self._history_cache[label] = hit
            return hit

    def _history(self, seconds: float, now: float, figure: FigureFn) -> dict[str, Any]:
        st = self.state
        # interval_s (the bucket's longest) tells the figure each snapshot's own spacing.
        names = [field for field, *_ in HISTORY_SERIES] + ["interval_s"]
        since = now - seconds
        where = "this run only (in memory: no data dir)" if st.history is None else \
            "persisted in PostgreSQL" if st.history.dialect.name == "postgres" else \
            "persisted in the data dir"
        # SQLite averages into the chart's own buckets (one bounded query whatever the range);
        # the figure's downsampling then only marks the gaps. Memory holds ≤ 720 snapshots.
        step = seconds / HISTORY_POINTS
        peak = (*(f for f, *_, how in HISTORY_SERIES if how == "max"), "interval_s")
        try:
            series = st.metric_history(names, since, now, step=step, peak=peak)
        except (StorageUnavailable, StateUnavailable) as exc:
            series, where = {}, f"history unavailable: {exc}"
        return figure(series, since, now, note=where,
                      gap=GAP_INTERVALS * st.info().snapshot_interval)

    def alerts(self, limit: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(firing alerts, newest ``limit`` transitions) from the monitor (empty without one)."""
        monitor = self.monitor
        if monitor is None:
            return [], []
        key = getattr(monitor, "evaluations", 0)
        return self.shared("alerts", key, lambda: (monitor.active(), monitor.history(limit)))

    # -- per-client incremental series -------------------------------------------------------------
    def series(self, state: Any, value_field: str, key_field: str,
               figure: FigureFn = series_chart.series_figure) -> dict[str, Any] | None:
        """What a client's time series needs: ``{"extend"|"figure": …, "state": …}`` or None
        (``figure`` builds the whole figure).

        ``extend`` carries only the points after the client's sequence number; ``figure`` is a
        full reset (first load, field change, new key, restart, or a client ahead of the buffer).
        """
        try:
            return self._series(state, value_field, key_field, figure)
        except StateUnavailable as exc:  # shown once, as such; a reset once it answers
            new = {"unavailable": str(exc)}
            return None if state == new else {
                "figure": unavailable.figure("Live values", str(exc)), "state": new}

    def _series(self, state: Any, value_field: str, key_field: str,
                figure: FigureFn) -> dict[str, Any] | None:
        buf = self.state.records
        action = series_chart.series_action(state, self.epoch, buf.last_seq, value_field, key_field)
        if action == "none":
            return None
        if action == "extend":
            assert state is not None
            seq = state["seq"]
            new = self._extends.get((value_field, key_field, seq), (self.epoch, buf.last_seq),
                                    lambda: self._new_points(seq, value_field, key_field))
            if new is None:
                return None
            groups, last = new
            if groups is not None:  # else a gap: the client missed records, a reset
                ext = series_chart.series_extend(groups, state["keys"], state["max"])
                if ext is not None:
                    return {"extend": ext, "state": {**state, "seq": last}}
        # Viewers loading the page together share one full figure per buffer state (of this
        # epoch: a state store that lost its data counts its records from 1 again).
        return self.shared(f"reset:{value_field}|{key_field}", (self.epoch, buf.last_seq),
                            lambda: self._reset(value_field, key_field, figure))

    def _new_points(self, seq: int, value_field: str, key_field: str
                    ) -> tuple[dict[str, Any] | None, int] | None:
        """The points after ``seq`` grouped by key and the last one's sequence number,
        shared by every viewer holding ``seq``; groups ``None`` when the buffer no longer
        holds the record after ``seq`` (a gap); ``None`` when nothing is newer."""
        items = self.state.records.after(seq)
        if not items:
            return None
        if items[0][0] != seq + 1:
            return None, items[-1][0]
        return series_chart.group_points(items, value_field, key_field,
                                         self.options.time_field), items[-1][0]

    def _reset(self, value_field: str, key_field: str, figure: FigureFn) -> dict[str, Any]:
        buf = self.state.records
        items = buf.snapshot()
        groups = series_chart.group_points(items, value_field, key_field, self.options.time_field)
        keys = list(groups)
        return {"figure": figure(groups, value_field, key_field),
                "state": {"epoch": self.epoch, "seq": items[-1][0] if items else 0,
                          "fields": [value_field, key_field], "keys": keys,
                          "max": series_chart.points_per_trace(buf.capacity, len(keys))}}

    # -- tables ------------------------------------------------------------------------------------
    def table_versions(self) -> dict[str, int]:
        """A version per table; a table is re-sent only when its version changed."""
        st = self.state
        return {"latest": st.records.last_seq, "quarantine": st.quarantine.total,
                "errors": st.errors.total, "late": st.late.total}

    def latest_records(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Column definitions and rows of the newest records (bounded)."""
        records = self.state.records
        return self.shared("latest", records.last_seq, lambda: tables.latest_records(
            records.after(0, limit=self.options.table_rows)))

    def quarantine_rows(self) -> list[dict[str, Any]]:
        """Rows of the newest quarantined records with their reasons (bounded)."""
        q = self.state.quarantine
        return self.shared("quarantine", q.total, lambda: tables.quarantine_rows(
            q.recent(self.options.table_rows)))

    def late_rows(self) -> list[dict[str, Any]]:
        """Rows of the newest records set aside as late (bounded)."""
        log = self.state.late
        return self.shared("late", log.total, lambda: tables.late_rows(
            log.recent(self.options.table_rows)))

    def error_rows(self) -> list[dict[str, Any]]:
        """Rows of the newest ingestion errors (bounded)."""
        log = self.state.errors
        return self.shared("errors", log.total, lambda: tables.error_rows(
            log.recent(self.options.table_rows)))

    def field_names(self) -> tuple[list[str], list[str]]:
        """(numeric fields, key candidates) seen in the newest records, hints first.

        A text field is offered as key only when it has few distinct values (one line per
        key); unique ids would draw thousands of lines.
        """
        return self.shared("fields", self.state.records.last_seq, self._field_names)

    def _field_names(self) -> tuple[list[str], list[str]]:
        hints = self.state.info().hints
        recent = [r for _, r in self.state.records.after(0, limit=KEY_SAMPLE)]
        rec = recent[-1] if recent else {}
        numeric = _unique([self.options.value_field, *hints.numeric_fields]
                          + [k for k, v in rec.items() if is_number(v)])
        texts = [k for k, v in rec.items() if isinstance(v, str) and k != self.options.time_field]
        keys = [k for k in texts if len({str(r.get(k)) for r in recent}) <= MAX_KEYS]
        return numeric, _unique([self.options.key_field, hints.key_field, *keys])


def _quality_snapshot(monitor: Any, limit: int) -> tuple[dict[str, list[Any]], dict[str, Any], str]:
    series = monitor.series(QUALITY_METRICS, limit)
    thresholds = {m: list(v) for m, v in monitor.thresholds().items() if m in QUALITY_METRICS}
    return series, thresholds, repr(sorted(thresholds.items()))


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(str(n) for n in names if n))
