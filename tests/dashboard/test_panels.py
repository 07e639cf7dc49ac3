"""Tests for streamdash.dashboard.panels (the charts declared once, and their snapshots)."""

import pytest

from streamdash.config import Settings
from streamdash.dashboard import ids, views
from streamdash.dashboard.layout import build_layout, chart_rows
from streamdash.dashboard.live import LiveView
from streamdash.dashboard.options import DashboardOptions, dashboard_options
from streamdash.dashboard.panels import PANELS, TICK_PANELS, Inputs, read_inputs
from streamdash.runtime import Runtime
from streamdash.testing import FakeClock, ListSource
from tests.dashboard.test_layout import component_ids

T0 = 1_700_000_000.0


@pytest.fixture
def view():
    settings = Settings({"buffer.capacity": 100, "source.interval": 1})
    rt = Runtime(settings, ListSource([]), clock=FakeClock(T0))
    yield LiveView(rt, dashboard_options(settings, rt.source.hints))
    rt.stop()


def recs(n, start=0):
    return [{"id": i, "key": f"k{i % 2}", "value": float(i)} for i in range(start, start + n)]


def snapshot(view, panel_id, state, inputs=Inputs("value")):
    panel = next(p for p in PANELS if p.id == panel_id)
    return panel.snapshot(view, state, inputs, panel.figure)


def test_every_panel_is_on_the_page_once_with_its_note_store_and_timer():
    """Each declared chart has one graph on the page, plus its note line, store and timer."""
    page = component_ids(build_layout("t", "s", DashboardOptions()))
    declared = [p.id for p in PANELS]
    assert len(set(declared)) == len(declared) and set(declared) <= page
    assert {p.note for p in PANELS if p.note} <= page
    assert {p.store for p in PANELS if p.store} | {p.timer for p in PANELS} <= page


def test_cards_fill_rows_of_twelve_columns_in_declared_order():
    """Chart cards are laid out in declaration order, no row wider than 12 columns."""
    rows = chart_rows({}, {ids.HISTORY_TICK: 30})
    widths = [[getattr(c, "lg", None) or c.xs for c in row.children] for row in rows]
    assert all(sum(row) <= 12 for row in widths)
    # A row ends only where the next card would not fit in it.
    assert all(sum(row) + nxt[0] > 12 for row, nxt in zip(widths, widths[1:], strict=False))
    assert [w for row in widths for w in row] == [p.width for p in PANELS]
    charts = [p.id for p in PANELS]
    order = [component_ids(col) & set(charts) for row in rows for col in row.children]
    assert [next(iter(o)) for o in order] == charts


def test_tick_outputs_and_inputs_come_from_the_tick_panels():
    """Every chart without its own callback is an output of the live tick (extendData too
    when it may extend) and the tick reads the controls it reads; charts with their own
    callback are not outputs of the tick."""
    for panel in TICK_PANELS:
        assert set(panel.outputs) <= set(views.TICK_OUTPUTS)
        assert set(panel.inputs) <= set(views.TICK_INPUTS)
    assert ids.prop(ids.CHART_QUALITY, "extendData") in views.TICK_OUTPUTS
    for panel in set(PANELS) - set(TICK_PANELS):
        assert not set(panel.outputs) & set(views.TICK_OUTPUTS)


def test_sent_names_the_property_an_update_sets():
    """A figure update sets .figure, an extension .extendData, no update nothing."""
    panel = next(p for p in PANELS if p.id == ids.CHART_QUALITY)
    assert panel.sent({"figure": 1, "state": 0}) == {"chart-quality.figure": 1}
    assert panel.sent({"extend": 2, "state": 0}) == {"chart-quality.extendData": 2}
    assert panel.sent(None) == {}


def test_read_inputs_keeps_known_choices_only(view):
    """Field names the data does not have and unknown ranges fall back to the defaults."""
    view.runtime.buffer.extend(recs(3))
    chosen = read_inputs(view, {ids.VALUE_FIELD: "id", ids.KEY_FIELD: "key",
                                ids.HISTORY_RANGE: "1 h"})
    assert chosen == Inputs("id", "key", "1 h")
    assert read_inputs(view, {ids.VALUE_FIELD: "nope", ids.KEY_FIELD: ["x"],
                              ids.HISTORY_RANGE: "1 y"}) == Inputs("value", "", "15 min")
    assert read_inputs(view, {ids.HISTORY_RANGE: ["1 h"]}).range_label == "15 min"


def test_histogram_and_windows_are_sent_only_when_their_data_changed(view):
    """Histogram and window charts carry a version that changes only with their data."""
    rt = view.runtime
    rt.buffer.extend(recs(10))
    first = snapshot(view, ids.CHART_HISTOGRAM, None)
    assert sum(first["figure"]["data"][0]["y"]) == 10
    assert snapshot(view, ids.CHART_HISTOGRAM, first["state"]) is None
    rt.buffer.extend(recs(1, 10))
    assert snapshot(view, ids.CHART_HISTOGRAM, first["state"])["state"] != first["state"]
    w1 = snapshot(view, ids.CHART_WINDOWS, None)
    assert w1["figure"]["data"] == []
    rt.events.publish("window", [{"key": "k0", "start": T0, "end": T0 + 10, "count": 2,
                                  "mean": 1.0, "min": 0.0, "max": 2.0, "p95": 2.0}])
    w2 = snapshot(view, ids.CHART_WINDOWS, w1["state"])
    assert w2["state"] != w1["state"] and w2["figure"]["data"][2]["y"] == [1.0]
    assert snapshot(view, ids.CHART_WINDOWS, w2["state"]) is None


def test_figures_are_shared_by_viewers(view):
    """Two browsers asking for the same version get the very same figure object."""
    view.runtime.buffer.extend(recs(5))
    one, two = (snapshot(view, ids.CHART_HISTOGRAM, None) for _ in range(2))
    assert one["figure"] is two["figure"]


def test_a_state_the_browser_made_up_gets_a_whole_figure(view):
    """Browser state of the wrong shape never fails a snapshot: it gets the full figure."""
    monitor = view.runtime.monitor
    monitor.evaluate(T0)
    good = snapshot(view, ids.CHART_QUALITY, None)["state"]
    for bad in ("x", [1], {**good, "ts": "late"}, {**good, "sig": None}):
        assert "figure" in snapshot(view, ids.CHART_QUALITY, bad)
    for bad in ("x", {"a": 1}, [None]):
        assert "figure" in snapshot(view, ids.CHART_HISTOGRAM, bad)
        assert "figure" in snapshot(view, ids.CHART_HISTORY, bad)
