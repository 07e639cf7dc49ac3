"""Tests for streamdash.dashboard.callbacks, replayed through Flask's test client."""

import json

import pytest

from streamdash.app import create_app
from streamdash.config import Settings
from streamdash.dashboard.replay import CallbackClient, callback_body, decode, find_callback
from streamdash.testing import FakeClock, ListSource

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
