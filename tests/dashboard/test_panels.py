"""Tests for streamdash.dashboard.panels: every chart is found in its module, and every one
is on the page, in the right request, sent once per version and robust to browser state."""

import pytest

from streamdash.dashboard import ids, views
from streamdash.dashboard.figures.history import HISTORY_RANGE
from streamdash.dashboard.layout import build_layout, chart_rows
from streamdash.dashboard.options import DashboardOptions
from streamdash.dashboard.panel import Inputs, Panel
from streamdash.dashboard.panels import PANELS, TICK_PANELS, declared_panels, ordered, read_inputs
from streamdash.errors import RegistryError
from streamdash.registry import discover
from tests.dashboard.conftest import T0
from tests.dashboard.test_layout import component_ids

EVERY_PANEL = pytest.mark.parametrize("panel", PANELS, ids=lambda p: p.id)


def recs(n, start=0):
    return [{"id": i, "key": f"k{i % 2}", "value": float(i)} for i in range(start, start + n)]


def feed(view):
    """Give every chart something to show: records, a closed window, a quality evaluation."""
    view.runtime.buffer.extend(recs(10))
    view.runtime.events.publish("window", [{"key": "k0", "start": T0, "end": T0 + 10, "count": 2,
                                            "mean": 1.0, "min": 0.0, "max": 2.0, "p95": 2.0}])
    view.runtime.monitor.evaluate(T0)


def snap(view, panel, state):
    return panel.snapshot(view, state, read_inputs(view, {}), panel.figure)


def test_the_built_in_charts_are_found_in_page_order():
    """The chart modules' panels are found and ordered by their ``order`` (another chart may
    sit between them)."""
    built_in = ["chart-series", "chart-histogram", "chart-windows", "chart-quality",
                "chart-history"]
    assert [p.id for p in PANELS if p.id in built_in] == built_in
    assert [p.order for p in PANELS] == sorted(p.order for p in PANELS)


def test_every_panel_is_on_the_page_once_with_its_note_store_and_timer():
    """Each declared chart has one graph on the page, plus its note line, store and timer."""
    page = component_ids(build_layout("t", "s", DashboardOptions()))
    declared = [p.id for p in PANELS]
    assert len(set(declared)) == len(declared) and set(declared) <= page
    assert {p.note for p in PANELS if p.note} <= page
    assert {p.store for p in PANELS if p.store} | {p.timer for p in PANELS} <= page


def test_cards_fill_rows_of_twelve_columns_in_declared_order():
    """Chart cards are laid out in declaration order, no row wider than 12 columns."""
    rows = chart_rows({}, {p.timer: 30 for p in PANELS})
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
        assert panel.extend == (ids.prop(panel.id, "extendData") in views.TICK_OUTPUTS)
    for panel in set(PANELS) - set(TICK_PANELS):
        assert not set(panel.outputs) & set(views.TICK_OUTPUTS)


@EVERY_PANEL
def test_every_panel_is_sent_once_then_nothing_while_its_version_holds(view, panel):
    """A browser with nothing gets the whole figure; sending back the state it got, it gets
    nothing more until the chart's data changes."""
    feed(view)
    first = snap(view, panel, None)
    assert set(first["figure"]) >= {"data", "layout"}
    assert snap(view, panel, first["state"]) is None


@EVERY_PANEL
@pytest.mark.parametrize("bad", ["x", [1], {"a": 1}, [None], 12, {"epoch": ["no"]}])
def test_a_state_the_browser_made_up_gets_a_whole_figure(view, panel, bad):
    """Browser state of the wrong shape never fails a snapshot: it gets the full figure."""
    feed(view)
    assert "figure" in snap(view, panel, bad)


@EVERY_PANEL
def test_every_panel_guards_what_it_adds_to_the_page(panel):
    """A chart's own store, timer and controls have the types a browser may send declared,
    and each control it owns has a check."""
    own = {panel.store, *panel.inputs} - {"", ids.VALUE_FIELD, ids.KEY_FIELD}
    own |= {panel.timer} - {ids.TICK}
    declared = {name.rsplit(".", 1)[0] for name in panel.value_types}
    assert own <= declared
    assert set(panel.choices) == set(panel.inputs) - {ids.VALUE_FIELD, ids.KEY_FIELD}


def test_sent_names_the_property_an_update_sets():
    """A figure update sets .figure, an extension .extendData, no update nothing."""
    panel = Panel("chart-x", "X", snap, dict, order=1, extend=True)
    assert panel.sent({"figure": 1, "state": 0}) == {"chart-x.figure": 1}
    assert panel.sent({"extend": 2, "state": 0}) == {"chart-x.extendData": 2}
    assert panel.sent(None) == {}


def test_read_inputs_keeps_known_choices_only(view):
    """Field names the data does not have and unknown ranges fall back to the defaults."""
    view.runtime.buffer.extend(recs(3))
    chosen = read_inputs(view, {ids.VALUE_FIELD: "id", ids.KEY_FIELD: "key",
                                HISTORY_RANGE: "1 h"})
    assert chosen == Inputs("id", "key", {HISTORY_RANGE: "1 h"})
    assert read_inputs(view, {ids.VALUE_FIELD: "nope", ids.KEY_FIELD: ["x"],
                              HISTORY_RANGE: "1 y"}) == Inputs("value", "", {HISTORY_RANGE:
                                                                              "15 min"})
    assert read_inputs(view, {HISTORY_RANGE: ["1 h"]}).choices[HISTORY_RANGE] == "15 min"


def test_figures_are_shared_by_viewers(view):
    """Two browsers asking for the same version get the very same figure object."""
    view.runtime.buffer.extend(recs(5))
    panel = next(p for p in PANELS if p.id == "chart-histogram")
    one, two = (snap(view, panel, None) for _ in range(2))
    assert one["figure"] is two["figure"]


PANEL_MODULE = """
    from streamdash.dashboard.panel import Panel

    def snapshot(live, state, inputs, figure):
        return None

    PANEL = Panel({id!r}, "Toy", snapshot, dict, order={order}, width={width})
"""


def panel_package(scratch_package, *panels):
    """A scratch package of one module per ``(id, order, width)``, named m0, m1 …"""
    return scratch_package({f"m{i}": PANEL_MODULE.format(id=pid, order=order, width=width)
                            for i, (pid, order, width) in enumerate(panels)})


def test_panels_are_ordered_by_order_not_by_module_name(scratch_package):
    """A module named later can place its chart first."""
    pkg, path = panel_package(scratch_package, ("b", 20, 6), ("a", 10, 6))
    assert [p.id for p in ordered(discover(pkg, path, declared_panels, "panel"))] == ["a", "b"]


@pytest.mark.parametrize(("panels", "message"), [
    ((("same", 10, 6), ("same", 20, 6)), "panel 'same' is declared twice: in {pkg}.m0 and "
                                         "in {pkg}.m1; rename one of them"),
    ((("a", 10, 6), ("b", 10, 6)), "panel order '10' is declared twice: in {pkg}.m0 and "
                                   "in {pkg}.m1; rename one of them"),
    ((("wide", 10, 13),), "{pkg}.m0: panel 'wide' has a width of 13 columns; a row has 12"),
])
def test_a_clash_fails_naming_the_modules(scratch_package, panels, message):
    """Two charts with one id or one order, or a card wider than a row, fail at import."""
    pkg, path = panel_package(scratch_package, *panels)
    with pytest.raises(RegistryError) as err:
        ordered(discover(pkg, path, declared_panels, "panel"))
    assert str(err.value) == message.format(pkg=pkg)
