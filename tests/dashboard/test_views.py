"""Tests for streamdash.dashboard.views (what a tick sends besides the time series)."""

import orjson
import pytest

from streamdash.config import Settings
from streamdash.dashboard import views
from streamdash.dashboard.live import LiveView
from streamdash.dashboard.options import dashboard_options
from streamdash.dashboard.panels import Inputs
from streamdash.dashboard.streams import StreamViews
from streamdash.runtime import Runtime
from streamdash.testing import FakeClock, ListSource

VALUE = Inputs("value")  # what a browser showing the 'value' field chose


@pytest.fixture
def live():
    rt = Runtime(Settings(), ListSource([]), clock=FakeClock(1_700_000_000.0))
    yield LiveView(rt, dashboard_options(rt.settings, rt.source.hints))
    rt.stop()


def test_digest_is_stable_and_short():
    """Equal values give equal 16-hex-digit digests regardless of key order."""
    assert views.digest({"a": 1, "b": [2]}) == views.digest({"b": [2], "a": 1})
    assert len(views.digest("x")) == 16 and views.digest(1) != views.digest(2)


def test_first_tick_sends_everything_then_only_changes(live):
    """The first tick fills every output (the streams overview too); a repeat with the
    returned state sends nothing."""
    live.runtime.buffer.extend({"id": i, "key": "k", "value": float(i)} for i in range(5))
    streams = StreamViews({"default": live})
    out, state = views.tick(live, None, VALUE, 5, streams, "default")
    assert set(out) == set(views.TICK_OUTPUTS) - {"chart-quality.extendData"}
    again, state2 = views.tick(live, state, VALUE, 5, streams, "default")
    assert again == {} and state2 == state
    alone, _ = views.tick(live, None, VALUE, 5)  # no streams given: no overview
    assert "stream-overview.children" not in alone
    live.runtime.buffer.append({"id": 9, "key": "k", "value": 9.0})
    out, _ = views.tick(live, state, VALUE, 5)
    assert {"grid-latest.rowData", "chart-histogram.figure", "kpi-latest.children"} <= set(out)
    assert "grid-quarantine.rowData" not in out and "chart-windows.figure" not in out


def test_late_table_is_sent_when_a_record_is_set_aside(live):
    """A tick after a late record sends the Late records table (newest first) and nothing
    when no new late record came."""
    _, state = views.tick(live, None, VALUE, 5)
    live.runtime.events.publish("late", [{"at": 1.0, "record": {"id": 1}},
                                         {"at": 2.0, "record": {"id": 2}}])
    out, state = views.tick(live, state, VALUE, 5)
    assert [r["record"] for r in out["grid-late.rowData"]] == ['{"id":2}', '{"id":1}']
    assert "grid-late.rowData" not in views.tick(live, state, VALUE, 5)[0]


def test_every_tick_output_exists_in_the_layout(live):
    """Each output name is a real component property of the page."""
    from dash import Dash

    from streamdash.dashboard import install_dashboard

    app = Dash(__name__)
    install_dashboard(app, live.runtime, live.runtime.settings)
    ids = set()

    def walk(node):
        if hasattr(node, "id") and getattr(node, "id", None):
            ids.add(node.id)
        children = getattr(node, "children", None)
        for child in children if isinstance(children, list) else [children]:
            if child is not None and not isinstance(child, (str, int, float)):
                walk(child)
    walk(app.layout)
    assert {name.rsplit(".", 1)[0] for name in views.TICK_OUTPUTS} <= ids


def counted(monkeypatch, module, name):
    """Count the calls of ``module.name`` (still calling it)."""
    calls = []
    real = getattr(module, name)

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(module, name, counting)
    return calls


def test_header_banners_and_overview_are_built_once_per_version(live, monkeypatch):
    """Fifty viewers ticking on one data version cost one build of the KPI texts, the alert
    banners and the overview rows; new records (and a new second) build them anew."""
    streams = StreamViews({"default": live})
    builds = [counted(monkeypatch, views, name)
              for name in ("kpi_texts", "_banners", "overview_rows")]
    live.runtime.buffer.extend({"id": i, "key": "k", "value": float(i)} for i in range(5))
    answers = [views.tick(live, None, VALUE, 5, streams, "default")[0] for _ in range(50)]
    assert all(a == answers[0] for a in answers) and [len(b) for b in builds] == [1, 1, 1]
    live.runtime.buffer.append({"id": 9, "key": "k", "value": 9.0})
    live.runtime.metrics.add_many({"records_in": 6})
    live.runtime.clock.advance(1)
    out, _ = views.tick(live, None, VALUE, 5, streams, "default")
    assert out["kpi-latest.children"] == "9.00" and [len(b) for b in builds] == [2, 2, 2]


def test_the_overview_is_plain_json(live):
    """The overview rows are sent as the JSON Dash makes of its components (no component
    object is left for the encoder to walk)."""
    out, _ = views.overview(StreamViews({"default": live}), None, "default")
    row = out["stream-overview.children"][0]
    assert row["type"] == "Tr" and row["namespace"] == "dash_html_components"
    link = row["props"]["children"][0]["props"]["children"]
    assert link["type"] == "A" and link["props"]["children"] == "default"
    orjson.dumps(out)  # raises TypeError for any component left


def test_hostile_chosen_names_do_not_grow_the_overview_cache(live):
    """Thousands of distinct chosen names (the guard refuses them first; this is the bound
    behind it) keep at most one entry per stream and one more."""
    streams = StreamViews({"default": live})
    for i in range(2000):
        views.overview(streams, None, f"evil-{i}")
    assert len(streams.shared) <= len(streams.names) + 1
