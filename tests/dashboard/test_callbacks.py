"""Tests for streamdash.dashboard.callbacks, replayed through Flask's test client."""

import inspect
import json
import time

import pytest

from streamdash.app import create_app
from streamdash.config import Settings
from streamdash.dashboard.replay import CallbackClient, callback_body, decode, find_callback
from streamdash.runtime import Runtime
from streamdash.testing import FakeClock, ListSource
from tests.helpers import wait_until, within

T0 = 1_700_000_000.0
FIELDS = {"value-field.value": "value", "key-field.value": "key", "refresh-picker.value": 5}


@pytest.fixture
def app():
    # source_down would fire too (the runtime is not started): these tests watch data rules.
    settings = Settings({"buffer.capacity": 1000,
                         "alerts": {"rules": [{"name": "source_down", "enabled": False}]}})
    app = create_app(settings, ListSource([]), start=False)
    app.runtime.clock = FakeClock(T0)
    app.runtime.monitor.clock = app.runtime.clock
    yield app
    app.runtime.stop()


def call(app, output, **values):
    client = CallbackClient(app, output, app.server.test_client().post)
    return client.call({**FIELDS, "tick.n_intervals": 1, **values})


def fill(app, n, start=0):
    app.runtime.buffer.extend({"id": i, "key": f"k{i % 3}", "value": float(i), "ts": f"T{i}"}
                              for i in range(start, start + n))


def test_refresh_picker_sets_interval_and_pause(app):
    """Choosing 2 s sets a 2000 ms interval; 'Paused' stops the interval."""
    assert call(app, "tick.interval", **{"refresh-picker.value": 2})[2] == {
        "tick.interval": 2000, "tick.max_intervals": -1}
    assert call(app, "tick.interval", **{"refresh-picker.value": 0})[2]["tick.max_intervals"] == 0


def test_header_shows_status_kpis_and_update_time(app):
    """The tick returns the status badge, last update and every KPI."""
    fill(app, 5)
    app.runtime.metrics.add_many({"records_in": 5})
    app.runtime.metrics.set_gauge("last_stored_at", T0)
    status, _, out = call(app, "client-state.data")
    assert status == 200 and out["status-badge.children"] == "DOWN"  # runtime not started
    assert out["kpi-total.children"] == "5" and out["kpi-latest.children"] == "4.00"
    assert out["last-update.children"].endswith("(0 s ago)")
    assert out["stale-warning.is_open"] is False and out["kpi-alerts.children"] == "0"


def test_series_sends_only_new_points_then_nothing(app):
    """First tick: whole figure; next: extendData with just the new points; idle: 204."""
    fill(app, 300)
    status, body, out = call(app, "series-state.data")
    state = out["series-state.data"]
    assert status == 200 and len(out["chart-series.figure"]["data"]) == 3
    fill(app, 6, 300)
    status, body, out = call(app, "series-state.data", **{"series-state.data": state})
    assert "chart-series.figure" not in out
    payload, indices, _ = out["chart-series.extendData"]
    assert sum(len(x) for x in payload["x"]) == 6 and sorted(indices) == [0, 1, 2]
    assert len(body) < 1500
    state = out["series-state.data"]
    assert call(app, "series-state.data", **{"series-state.data": state})[0] == 204


def test_series_resets_when_client_is_ahead(app):
    """A client holding a sequence number beyond the server's gets a clean full figure."""
    fill(app, 10)
    state = call(app, "series-state.data")[2]["series-state.data"]
    out = call(app, "series-state.data", **{"series-state.data": {**state, "seq": 10_000}})[2]
    assert "chart-series.figure" in out and out["series-state.data"]["seq"] == 10


def test_tick_callbacks_disable_the_interval_while_running(app):
    """Both tick callbacks declare running=(tick.disabled, True, False): no pile-up."""
    deps = json.loads(app.server.test_client().get("/_dash-dependencies").data)
    ticking = [d for d in deps if any(i["id"] == "tick" for i in d["inputs"])]
    assert len(ticking) == 2
    for spec in ticking:
        assert spec["running"] == {"running": {"tick.disabled": True},
                                   "runningOff": {"tick.disabled": False}}


def test_every_callback_is_short(app):
    """No callback of the page is over 15 lines (decorator included): they read a snapshot
    and call pure functions."""
    for key, spec in app.callback_map.items():
        lines, _ = inspect.getsourcelines(inspect.unwrap(spec["callback"]))
        assert len(lines) <= 15, f"{key}: {len(lines)} lines"


def test_idle_tick_answers_204(app):
    """Once the browser holds everything, a tick with no change sends nothing (HTTP 204)."""
    fill(app, 5)
    state = call(app, "client-state.data")[2]["client-state.data"]
    # Only the "N s ago" text could change: freeze the clock so nothing does.
    assert call(app, "client-state.data", **{"client-state.data": state})[0] == 204


def test_panels_send_figures_once_per_change(app):
    """Windows, histogram and quality figures are sent when they change, else left alone."""
    fill(app, 50)
    app.runtime.monitor.evaluate(T0)
    _, _, out = call(app, "client-state.data")
    assert {"chart-windows.figure", "chart-histogram.figure", "chart-quality.figure"} <= set(out)
    state = out["client-state.data"]
    fill(app, 1, 50)
    _, _, out = call(app, "client-state.data", **{"client-state.data": state})
    assert "chart-histogram.figure" in out
    assert "chart-windows.figure" not in out and "chart-quality.figure" not in out
    app.runtime.monitor.evaluate(T0 + 1)
    _, _, out = call(app, "client-state.data", **{"client-state.data": out["client-state.data"]})
    assert "chart-quality.extendData" in out and "chart-histogram.figure" not in out


def test_tables_resend_only_what_changed(app):
    """Grids and field options are sent first, then only the table whose data changed."""
    fill(app, 5)
    _, _, out = call(app, "client-state.data")
    assert len(out["grid-latest.rowData"]) == 5 and out["grid-errors.rowData"] == []
    assert out["key-field.options"] == [{"label": "key", "value": "key"}]
    state = out["client-state.data"]
    app.runtime.events.publish("ingest_error", {"at": T0, "source": "s", "reason": "timeout"})
    _, _, out = call(app, "client-state.data", **{"client-state.data": state})
    assert out["grid-errors.rowData"][0]["reason"] == "timeout"
    assert "grid-latest.rowData" not in out and "grid-quarantine.rowData" not in out


def test_alert_banner_appears_and_disappears(app):
    """A firing rule opens a banner slot; once resolved the slot closes; history records both."""
    monitor, metrics = app.runtime.monitor, app.runtime.metrics
    monitor.evaluate(T0)
    metrics.add_many({"records_in": 10, "records_accepted": 5, "records_rejected": 5})
    monitor.evaluate(T0 + 1)
    monitor.evaluate(T0 + 17)
    _, _, out = call(app, "client-state.data")
    assert out["alert-slot-0.is_open"] is True and out["alert-slot-0.color"] == "warning"
    assert "invalid_rate_high" in out["alert-slot-0.children"]
    assert out["grid-alerts.rowData"][0]["change"] == "pending → firing"
    state = out["client-state.data"]
    metrics.add_many({"records_in": 1000, "records_accepted": 1000})
    for t in (T0 + 80, T0 + 111, T0 + 112):
        monitor.evaluate(t)
    _, _, out = call(app, "client-state.data", **{"client-state.data": state})
    assert out["alert-slot-0.is_open"] is False
    assert out["grid-alerts.rowData"][0]["change"] == "firing → resolved"


def test_replay_helpers():
    """Request bodies follow the renderer's format; unknown outputs are a clear KeyError."""
    app = create_app(Settings(), ListSource([]), start=False)
    body = callback_body(app, "tick.interval", {"refresh-picker.value": 2})
    assert body["inputs"] == [{"id": "refresh-picker", "property": "value", "value": 2}]
    assert body["outputs"][0] == {"id": "tick", "property": "interval"}
    assert find_callback(app, "tick.max_intervals") == body["output"]
    with pytest.raises(KeyError, match="nope.children"):
        find_callback(app, "nope.children")
    assert decode(b'{"response": {"a": {"b": 1}}}') == {"a.b": 1}


# -- pipeline history (persisted snapshots, survives restarts) -------------------------------------
def history_call(app, range_label="15 min", seen=None):
    client = CallbackClient(app, "chart-history.figure", app.server.test_client().post)
    return client.call({"history-tick.n_intervals": 1, "history-range.value": range_label,
                        "history-state.data": seen})


def history(app, range_label="15 min"):
    status, _, out = history_call(app, range_label)
    assert status == 200
    return out["chart-history.figure"]


def points(fig, label="in (records/s)"):
    trace = next(t for t in fig["data"] if t["name"] == label)
    return [(x, y) for x, y in zip(trace["x"], trace["y"], strict=True) if y is not None]


def test_history_chart_shows_an_earlier_run_after_restart(tmp_path):
    """A run on a data dir snapshots to SQLite; a new app on the same dir charts those points."""
    settings = Settings({"data_dir": str(tmp_path), "source.interval": 0.1,
                         "storage": {"snapshot_interval": 0.1}})
    batches = [[{"id": b * 10 + i, "key": "k", "value": float(i)} for i in range(10)]
               for b in range(5)]
    first = create_app(settings, ListSource(batches))
    try:
        wait_until(lambda: first.runtime.counts()["accepted"] == 50, within(0.1), "50 records")
        # Three snapshots (one every 0.1 s) written after the last batch.
        done = time.time()
        wait_until(lambda: len(first.runtime.history.reader.metrics(
            ["throughput_in"], done, time.time() + 1)["throughput_in"]) >= 3,
            within(3 * 0.1, 0.2), "three snapshots after the last batch")
    finally:
        first.runtime.stop()
    stored = first.runtime.history.reader.metrics(["throughput_in"], 0, time.time())
    assert len(stored["throughput_in"]) >= 3
    second = create_app(settings, ListSource([]), start=False)  # nothing in memory: disk only
    fig = history(second)
    assert "persisted in the data dir" in fig["layout"]["title"]["text"]
    shown = points(fig)
    assert shown and any(y > 0 for _, y in shown)  # the 50 records of the first run
    first_ts, last_ts = stored["throughput_in"][0][0], stored["throughput_in"][-1][0]
    assert all(first_ts * 1000 - 1 <= x <= last_ts * 1000 + 1 for x, _ in shown)  # epoch ms
    assert points(fig, "end-to-end p95 (ms)")  # latency of those batches too


def test_history_chart_breaks_between_runs_and_follows_the_range(tmp_path):
    """Two runs 5 min apart on one data dir are two line segments; the range picker and the
    refresh period decide when the store is read again."""
    # Snapshots are taken by hand at fake times 10 s apart (the reporter's own thread would
    # wake only after 5 real seconds); a 5 s interval makes 12.5 s the gap limit.
    settings = Settings({"data_dir": str(tmp_path), "storage": {"snapshot_interval": 5},
                         "alerts": {"rules": [{"name": "source_down", "enabled": False}]}})
    clock = FakeClock(T0)
    for _run in range(2):
        rt = Runtime(settings, ListSource([]), clock=clock)
        rt.reporter.monotonic = clock  # snapshots then record the fake 10 s as interval_s
        rt.start()
        for _ in range(3):
            clock.advance(10)
            rt.metrics.add_many({"records_in": 100, "records_accepted": 100})
            rt.reporter.snapshot()
        rt.stop()  # the final snapshot, at the same fake time as the last one
        clock.advance(300)
    app = create_app(settings, runtime=Runtime(settings, ListSource([]), clock=clock),
                     start=False)
    fig = history(app)
    trace = next(t for t in fig["data"] if t["name"] == "in (records/s)")
    assert trace["y"].count(None) == 1 and len(points(fig)) == 6  # 2 runs × 3 snapshot times
    assert trace["x"][0] == (T0 + 10) * 1000 and trace["x"][-1] == (T0 + 360) * 1000
    # Cached per range until the refresh period ends: new snapshots show on the next period.
    with Runtime(settings, ListSource([]), clock=clock):
        pass
    assert history(app) == fig
    clock.advance(10)  # past the refresh period (the 5 s snapshot interval)
    assert len(points(history(app))) == 7 and points(history(app))[-1][0] == (T0 + 660) * 1000
    assert points(history(app, "24 h")) and history(app, "bogus") == history(app, "1 h")


def test_pausing_the_refresh_pauses_the_history_timer(app):
    """'Paused' in the refresh picker disables the history chart's timer; a refresh enables it."""
    assert call(app, "history-tick.disabled", **{"refresh-picker.value": 0})[2] == {
        "history-tick.disabled": True}
    assert call(app, "history-tick.disabled", **{"refresh-picker.value": 5})[2] == {
        "history-tick.disabled": False}


def test_history_is_not_resent_to_a_browser_that_shows_it(app):
    """A history tick within the same refresh period answers 204 to a browser holding that
    version; a new period or another range sends the figure again."""
    status, _, out = history_call(app, "1 h")
    seen = out["history-state.data"]
    assert status == 200 and out["chart-history.figure"]["data"]
    assert history_call(app, "1 h", seen)[0] == 204
    assert history_call(app, "24 h", seen)[0] == 200
    app.runtime.clock.advance(10)
    assert history_call(app, "1 h", seen)[0] == 200
