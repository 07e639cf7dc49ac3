"""Tests for streamdash.dashboard.direct (the live tick's callbacks answered without Dash's
dispatch): the same bytes as Dash's own answer, 204 alike, every other callback to Dash."""

import pytest

from streamdash.app import create_app
from streamdash.config import Settings
from streamdash.dashboard import direct
from streamdash.dashboard.replay import UPDATE_URL, callback_body
from streamdash.testing import FakeClock, ListSource

T0 = 1_700_000_000.0
VALUES = {"value-field.value": "value", "key-field.value": "key", "refresh-picker.value": 5,
          "tick.n_intervals": 1}
TICK_OUTPUTS = ("client-state.data", "series-state.data")


@pytest.fixture
def app():
    app = create_app(Settings({"buffer.capacity": 1000}), ListSource([]), start=False)
    app.runtime.clock = FakeClock(T0)
    app.runtime.monitor.clock = app.runtime.clock
    app.runtime.buffer.extend({"id": i, "key": f"k{i % 3}", "value": float(i), "ts": f"T{i}"}
                              for i in range(50))
    app.runtime.monitor.evaluate(T0)
    yield app
    app.runtime.stop()


def both(app, output, values):
    """(direct answer, Dash's own answer) to the same request."""
    server, client = app.server, app.server.test_client()
    body = callback_body(app, output, values)
    answered = client.post(UPDATE_URL, json=body)
    view = server.view_functions[UPDATE_URL]
    server.view_functions[UPDATE_URL] = view.__wrapped__
    try:
        by_dash = client.post(UPDATE_URL, json=body)
    finally:
        server.view_functions[UPDATE_URL] = view
    return answered, by_dash


@pytest.mark.parametrize("output", TICK_OUTPUTS)
def test_a_tick_is_answered_as_dash_answers_it(app, output):
    """The first tick, a tick with new data and a tick with nothing new: the same status,
    headers and bytes from the direct path as from Dash's dispatch."""
    values = dict(VALUES)
    for step in range(3):
        answered, by_dash = both(app, output, values)
        assert (answered.status_code, dict(answered.headers), answered.data) == \
            (by_dash.status_code, dict(by_dash.headers), by_dash.data), step
        if answered.status_code == 200:
            values[output] = answered.get_json()["response"][output.split(".")[0]]["data"]
        if step == 0:
            app.runtime.buffer.extend({"id": 50 + i, "key": "k1", "value": 1.0, "ts": "T"}
                                      for i in range(5))
    assert answered.status_code == 204  # the last step had nothing new


def test_only_the_tick_callbacks_are_answered_directly(app, monkeypatch):
    """The live tick and the charts' own callbacks are answered here; every other callback
    (the refresh picker here) still goes to Dash's dispatch."""
    answered = []
    real = direct.answer

    def counting(fn, outputs, body):
        answered.append(body["output"])
        return real(fn, outputs, body)
    monkeypatch.setattr(direct, "answer", counting)
    client = app.server.test_client()
    for output in (*TICK_OUTPUTS, "chart-history.figure"):
        client.post(UPDATE_URL, json=callback_body(app, output, VALUES))
    assert [find_output(key) for key in answered] == [*TICK_OUTPUTS, "chart-history.figure"]
    answer = client.post(UPDATE_URL, json=callback_body(app, "tick.interval",
                                                        {"refresh-picker.value": 2}))
    assert answer.get_json()["response"]["tick"] == {"interval": 2000, "max_intervals": -1}
    assert len(answered) == 3


def find_output(key):
    """The output of ``key`` among those the test sends."""
    return next(o for o in (*TICK_OUTPUTS, "chart-history.figure") if o in key)
