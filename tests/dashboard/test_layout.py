"""Tests for streamdash.dashboard.layout (the page structure, no I/O)."""

import re

from streamdash.app import create_app
from streamdash.config import Settings
from streamdash.dashboard.layout import ALERT_SLOTS, KPI_IDS, build_layout, refresh_options
from streamdash.dashboard.options import DashboardOptions
from streamdash.testing import ListSource


def component_ids(node, found=None):
    found = set() if found is None else found
    if getattr(node, "id", None):
        found.add(node.id)
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            component_ids(child, found)
    return found


def test_page_has_every_component():
    """Header, KPI cards, alert slots, charts, grids, timer and stores are all on the page."""
    ids = component_ids(build_layout("t", "src (kind)", DashboardOptions(), rate_window=30))
    expected = {"source-label", "status-badge", "last-update", "refresh-picker", "stale-warning",
                "value-field", "key-field", "chart-series", "chart-histogram", "chart-windows",
                "chart-quality", "grid-alerts", "grid-latest", "grid-quarantine", "grid-errors",
                "grid-late",
                "tick", "series-state", "client-state", "alert-more"}
    expected |= {f"kpi-{k}" for k, _ in KPI_IDS} | {f"alert-slot-{i}" for i in range(ALERT_SLOTS)}
    assert expected <= ids


def test_refresh_choices_and_default():
    """The picker offers 1, 2, 5, 10 s and Paused, plus a configured non-standard refresh."""
    labels = [o["label"] for o in refresh_options(5)]
    assert labels == ["1 s", "2 s", "5 s", "10 s", "Paused"]
    assert [o["value"] for o in refresh_options(0.5)][:2] == [0.5, 1.0]
    tick = _find(build_layout("t", "s", DashboardOptions(refresh=0)), "tick")
    assert tick.max_intervals == 0  # refresh 0 in the settings starts paused


def test_page_uses_no_cdn():
    """Every script and stylesheet of the served page comes from this server (works offline)."""
    app = create_app(Settings(), ListSource([]), start=False)
    html = app.server.test_client().get("/").data.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(u.startswith("/") for u in urls), urls
    assert "/assets/bootstrap.min.css" in html


def _find(node, wanted):
    if getattr(node, "id", None) == wanted:
        return node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            hit = _find(child, wanted)
            if hit is not None:
                return hit
    return None


def test_history_card_has_range_picker_and_its_own_timer():
    """The pipeline-history card offers 15 min … 24 h (15 min first shown, so a fresh run fills
    it) and refreshes on its own interval, not on the live tick."""
    page = build_layout("t", "s", DashboardOptions(), history_refresh=30)
    picker = _find(page, "history-range")
    assert [o["value"] for o in picker.options] == ["15 min", "1 h", "6 h", "24 h"]
    assert picker.value == "15 min" and _find(page, "chart-history") is not None
    assert _find(page, "history-tick").interval == 30_000


def test_window_card_says_why_it_lags_and_graphs_have_a_narrow_mode_bar():
    """The window card shows the note it is given; every chart's mode bar drops the buttons a
    live chart does not need (so it stays narrow)."""
    page = build_layout("t", "s", DashboardOptions(), window_note="10 s windows appear …")
    assert _find(page, "window-note").children == "10 s windows appear …"
    for graph_id in ("chart-series", "chart-histogram", "chart-windows", "chart-quality",
                     "chart-history"):
        config = _find(page, graph_id).config
        assert config["displayModeBar"] == "hover" and "lasso2d" in config[
            "modeBarButtonsToRemove"]
