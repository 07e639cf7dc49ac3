"""Tests for streamdash.dashboard.streams and the dashboard over several streams: the chosen
stream from the URL or the picker, every callback on it, hostile names refused, the overview."""

import json

import pytest

from streamdash.app import create_app
from streamdash.dashboard import ids
from streamdash.dashboard.replay import CallbackClient, callback_body
from streamdash.dashboard.streams import (
    MAX_SEARCH,
    overview_cells,
    overview_rows,
    stream_from_search,
)
from tests.test_streams import two_streams

NAMES = ["quakes", "prices"]
BASE = {"value-field.value": "temperature", "key-field.value": "sensor",
        "refresh-picker.value": 5, "tick.n_intervals": 1}


@pytest.fixture(scope="module")
def app():
    """Two streams, not started, whose buffers and counters the tests fill."""
    app = create_app(two_streams(), start=False)
    for name, n in (("quakes", 7), ("prices", 3)):
        rt = app.runtimes[name]
        rt.buffer.extend({"id": i, "sensor": f"{name}-{i % 2}", "temperature": float(i),
                          "ts": 1_700_000_000 + i} for i in range(n))
        rt.metrics.add_many({"records_in": n})
    yield app
    app.runtimes.close()


def call(app, output, changed=None, **values):
    client = CallbackClient(app, output, app.server.test_client().post)
    return client.call({**BASE, **values}, changed)


@pytest.mark.parametrize(("search", "expected"), [
    ("?stream=prices", "prices"), ("stream=prices", "prices"), ("?a=1&stream=quakes", "quakes"),
    ("?stream=nope", None), ("", None), (None, None), (42, None), ("?stream=", None),
    ("?" + "x=1&" * 10_000 + "stream=prices", None),  # past MAX_SEARCH: not read
    ("?stream=%3Cscript%3E", None), ("?" + "&" * 200 + "stream=prices", None),
    ("?a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11&l=12&m=13&n=14&o=15&p=16&q=17", None),
], ids=lambda v: repr(v)[:40])
def test_the_stream_comes_from_the_url_only_when_configured(search, expected):
    """?stream=NAME picks a configured stream; anything else (unknown, empty, not text, a
    query past MAX_SEARCH characters) picks none."""
    assert stream_from_search(search, NAMES) == expected
    assert MAX_SEARCH < 10_000


def test_every_tick_reads_the_stream_the_browser_shows(app):
    """The live tick and a chart's own callback read the stream in the 'stream' store; none
    is the default (first) stream."""
    _, _, prices = call(app, "client-state.data", **{"stream.data": "prices"})
    _, _, quakes = call(app, "client-state.data", **{"stream.data": "quakes"})
    _, _, default = call(app, "client-state.data")
    assert prices["kpi-total.children"] == "3" and quakes["kpi-total.children"] == "7"
    assert default["kpi-total.children"] == "7"
    rows = prices["grid-latest.rowData"]
    assert {r["sensor"] for r in rows} == {"prices-0", "prices-1"}
    _, _, chart = call(app, "series-state.data", **{"stream.data": "prices"})
    names = {t["name"] for t in chart["chart-series.figure"]["data"]}
    assert names and all(n.startswith("prices") for n in names)


def test_the_overview_shows_every_stream_with_the_chosen_one_marked(app):
    """One row per stream (name, source, records/s, last update, health, alerts)."""
    _, _, out = call(app, "client-state.data", **{"stream.data": "prices"})
    rows = out["stream-overview.children"]
    assert [r["props"]["children"][0]["props"]["children"]["props"]["children"]
            for r in rows] == NAMES
    assert [r["props"]["className"] for r in rows] == ["", "table-active"]
    assert "Prices (simulated)" in json.dumps(rows[1])


def test_the_url_and_the_picker_choose_the_stream(app):
    """?stream= sets the store, the picker, the header and the stream's default fields; the
    picker writes ?stream= back into the URL; a URL naming no stream shows the default."""
    status, _, out = call(app, "stream.data", **{"url.search": "?stream=prices",
                                                 "stream-picker.value": "quakes"},
                          changed=["url.search"])
    assert status == 200 and out["stream.data"] == "prices"
    assert out["stream-picker.value"] == "prices" and out["source-label.children"] == \
        "Prices (simulated)"
    assert out["value-field.value"] == "temperature" and "url.search" not in out
    _, _, picked = call(app, "stream.data", **{"url.search": "", "stream-picker.value": "prices"},
                        changed=["stream-picker.value"])
    assert picked["url.search"] == "?stream=prices" and picked["stream.data"] == "prices"
    status, _, _ = call(app, "stream.data", **{"url.search": "?stream=evil"},
                        changed=["url.search"])
    assert status == 204  # the default, which the page shows already


def test_the_kpi_labels_name_the_chosen_stream_s_quality_window():
    """Each stream's rates cover its own ``alerts.window``: choosing a stream relabels the
    windowed KPI cards (records/s, invalid, duplicate and late %), the others stay."""
    settings = two_streams()
    settings = type(settings)({"streams": {**settings.get("streams"),
                                           "prices": {**settings.get("streams")["prices"],
                                                      "alerts": {"window": "15s"}}}})
    app = create_app(settings, start=False)
    try:
        _, _, out = call(app, "stream.data", **{"url.search": "?stream=prices"},
                         changed=["url.search"])
        assert out["kpi-rate-label.children"] == "Records/s (15 s)"
        assert out["kpi-late-label.children"] == "Late % (15 s)"
        assert "kpi-total-label.children" not in out  # names no window
        _, _, back = call(app, "stream.data", **{"url.search": "", "stream.data": "prices",
                                                 "stream-picker.value": "quakes"},
                          changed=["stream-picker.value"])
        assert back["kpi-invalid-label.children"] == "Invalid % (60 s)"
    finally:
        app.runtimes.close()


@pytest.mark.parametrize("value", ["nope", "<img src=x onerror=alert(1)>", "x" * 100_000, 7,
                                   ["prices"], {"a": 1}, True])
def test_a_hostile_stream_value_is_refused_with_a_400(app, value):
    """A name no stream has, or a value of another type, in a callback payload: a clean 400
    before any callback runs, without repeating the value."""
    client = app.server.test_client()
    for output, prop in (("client-state.data", "stream.data"),
                         ("series-state.data", "stream.data"),
                         ("stream.data", "stream-picker.value")):
        body = callback_body(app, output, {**BASE, prop: value})
        answer = client.post("/_dash-update-component", json=body)
        assert answer.status_code == 400, (output, value)
        error = answer.get_json()["error"]
        assert error.startswith("malformed callback request") and len(error) < 200
        assert "onerror" not in error


def test_a_hostile_url_is_read_within_its_bound(app):
    """A long or odd ?query in the URL is not an error: it shows the default stream."""
    for search in ("?stream=" + "p" * 100_000, "?stream=prices\x00", "?%%%"):
        status, _, _ = call(app, "stream.data", **{"url.search": search}, changed=["url.search"])
        assert status == 204


def test_overview_rows_keep_a_hostile_title_as_text():
    """A source's name is a plain string in the row (React renders it as text, never markup)."""
    evil = "<img src=x onerror=alert(1)>"
    rows = overview_rows(overview_cells([{"name": "a", "title": evil, "kind": "http",
                                          "status": "ok", "reasons": [evil], "rate": None,
                                          "last_update": None, "active_alerts": None}]), "a")
    cells = rows[0].children
    assert cells[1].children == f"{evil} (http)" and isinstance(cells[1].children, str)
    assert cells[4].title == evil and cells[3].children == "never"


def test_one_stream_has_no_picker_callback_but_an_overview():
    """A config without streams: no URL/picker callback (the page works as before) and the
    overview line of its one stream."""
    from streamdash.config import Settings
    from streamdash.testing import ListSource

    app = create_app(Settings(), ListSource([]), start=False)
    try:
        assert not any(f"{ids.LOCATION}.search" in key for key in app.callback_map)
        _, _, out = call(app, "client-state.data", **{"value-field.value": "value"})
        assert len(out["stream-overview.children"]) == 1
        assert '"default"' in json.dumps(out["stream-overview.children"])
    finally:
        app.runtimes.close()
