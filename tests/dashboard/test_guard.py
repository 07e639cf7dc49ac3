"""Issue 13, case 2: client-chosen names cannot grow memory, oversized bodies are refused,
malformed callback requests answer 400 and unknown suite paths 404, never with a traceback."""

from __future__ import annotations

import json
import logging

import pytest

from streamdash.app import create_app
from streamdash.config import Settings
from streamdash.dashboard.live import MAX_CACHED
from streamdash.dashboard.replay import UPDATE_URL, CallbackClient, callback_body
from streamdash.testing import ListSource

FIELDS = {"value-field.value": "value", "key-field.value": "key", "refresh-picker.value": 5,
          "tick.n_intervals": 1}


@pytest.fixture
def app():
    app = create_app(Settings({"buffer.capacity": 100}), ListSource([]), start=False)
    app.runtime.buffer.extend({"id": i, "key": f"k{i % 3}", "value": float(i)}
                              for i in range(20))
    yield app
    app.runtime.stop()


@pytest.fixture
def tracebacks(caplog):
    """Log records of the test that carry a traceback."""
    caplog.set_level(logging.INFO)
    return lambda: [r for r in caplog.records if r.exc_info]


def test_distinct_client_chosen_field_names_do_not_grow_the_caches(app, tracebacks):
    """300 ticks, each naming a different 100 kB value field, leave every cache bounded and
    no hostile name in any of them: unknown fields fall back to the configured one."""
    client = CallbackClient(app, "client-state.data", app.server.test_client().post)
    series = CallbackClient(app, "chart-series.figure", app.server.test_client().post)
    for i in range(300):
        name = f"{i:06d}" + "x" * 100_000
        status, _, _ = client.call({**FIELDS, "value-field.value": name})
        assert status in (200, 204)
        status, _, _ = series.call({**FIELDS, "value-field.value": name, "key-field.value": name})
        assert status in (200, 204)
    live = app.live
    assert len(live._cache) <= MAX_CACHED and len(live._fields) <= 8
    assert all(len(key) < 200 for key in live._cache)
    assert live.known_field("value") == "value" and live.known_field("x" * 10) is None
    assert not tracebacks()


def test_a_body_over_max_request_bytes_is_refused_with_413(app, tracebacks):
    """A 2 MB callback body (the issue's attack) answers 413 at the default 1 MB cap."""
    body = callback_body(app, "client-state.data",
                         {**FIELDS, "value-field.value": "v" * 2_000_000})
    resp = app.server.test_client().post(UPDATE_URL, data=json.dumps(body),
                                         content_type="application/json")
    assert resp.status_code == 413 and not tracebacks()


@pytest.mark.parametrize("body", [
    b"{not json", b"[1, 2]", b"{}", b'{"output": "nope.children", "inputs": []}',
    b'{"output": "history-tick.disabled", "outputs": {"id": "history-tick", "property": '
    b'"disabled"}, "inputs": "x"}',
    b'{"output": "history-tick.disabled", "outputs": {"id": "history-tick", "property": '
    b'"disabled"}, "inputs": [{"id": "refresh-picker", "property": "value", "value": "abc"}]}',
    b'{"output": "history-tick.disabled", "outputs": {"id": "history-tick", "property": '
    b'"disabled"}, "inputs": [{"id": "other", "property": "value", "value": 5}]}',
])
def test_malformed_callback_requests_answer_400_without_traceback(app, tracebacks, body):
    """Bodies that are not a request for one of the app's callbacks answer 400, logged as one
    line without a traceback (Dash alone answers 500 with a full traceback)."""
    resp = app.server.test_client().post(UPDATE_URL, data=body, content_type="application/json")
    assert resp.status_code == 400
    assert not tracebacks()


def test_series_state_of_the_wrong_shape_is_reset_not_a_crash(app, tracebacks):
    """A browser state whose sequence number is not a number gets a full figure."""
    client = CallbackClient(app, "chart-series.figure", app.server.test_client().post)
    state = {"epoch": app.live.epoch, "fields": ["value", "key"], "seq": "9", "keys": []}
    status, _, out = client.call({**FIELDS, "series-state.data": state})
    assert status == 200 and out["series-state.data"]["seq"] == 20
    assert not tracebacks()


@pytest.mark.parametrize("path", ["/_dash-component-suites/nope/x.js",
                                  "/_dash-component-suites/dash/nope.js",
                                  "/_dash-component-suites/dash/../../etc/passwd"])
def test_unknown_component_suite_paths_answer_404(app, tracebacks, path):
    """Unknown libraries and files under /_dash-component-suites answer 404, not 500."""
    assert app.server.test_client().get(path).status_code == 404
    assert not tracebacks()


def test_a_well_formed_callback_still_answers(app):
    """The guard lets the dashboard's own requests through."""
    client = CallbackClient(app, "chart-series.figure", app.server.test_client().post)
    status, _, out = client.call(FIELDS)
    assert status == 200 and out["series-state.data"]["seq"] == 20
