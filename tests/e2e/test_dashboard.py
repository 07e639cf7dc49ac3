"""Browser tests of the live dashboard (dash_duo, headless Chromium): real user flows."""

import os
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from streamdash.app import create_app
from streamdash.config import Settings
from streamdash.dashboard.figures.history import HISTORY_POINTS
from streamdash.dashboard.live import history_refresh
from streamdash.dashboard.options import HISTORY_RANGES
from streamdash.dashboard.texts import STALE_AFTER_INTERVALS
from streamdash.sources.simulator import FAULTS, SimulatedSource
from streamdash.store.history import StorageOptions
from streamdash.testing import ListSource
from tests.helpers import ROUND_TRIP, wait_stable, within

pytestmark = pytest.mark.e2e

DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "dashboard.png"
XSS_IMG = "<img src=x onerror=\"window.__xss=1;document.title='pwned'\">"
XSS_SCRIPT = "<script>window.__xss=2;document.title='pwned'</script>"
# The periods these tests run the product on; every wait below is derived from them.
SOURCE_INTERVAL, REFRESH = 0.2, 1.0
#: A new record shows once the producer fetched it and the next browser tick read it.
TICK = within(SOURCE_INTERVAL, REFRESH)
#: The first thing a test waits for also waits for the page itself: Dash's bundles parsed, the
#: layout and the callback map fetched, the first callbacks answered: one more round trip.
FIRST = TICK + ROUND_TRIP
# Fast alerting so a rule fires and resolves within a few seconds.
ALERT_WINDOW, ALERT_INTERVAL = 1, 0.25
# Only the rule under test: the other rate rules would fire on the simulator's injected
# invalid and duplicate records once their `for` (15 s) has passed, however slow the machine.
FAST_ALERTS = {"window": ALERT_WINDOW, "interval": ALERT_INTERVAL, "rules": [
    {"name": "null_rate_high", "for": 0, "keep_firing_for": 0},
    *({"name": name, "enabled": False} for name in (
        "source_down", "invalid_rate_high", "duplicate_rate_high", "late_rate_high"))]}
#: A rate crosses its threshold once a whole alert window holds the new data; the monitor then
#: evaluates within its interval and the banner shows on the next tick.
ALERT_CHANGE = within(SOURCE_INTERVAL, ALERT_WINDOW + ALERT_INTERVAL, REFRESH)


@pytest.fixture
def make_app():
    """Build apps for a test and always stop their runtimes afterwards."""
    apps = []

    def make(source, **values):
        settings = Settings({"source.interval": SOURCE_INTERVAL, "dashboard.refresh": REFRESH,
                             **values})
        apps.append(create_app(settings, source))
        return apps[-1]
    yield make
    for app in apps:
        app.runtime.stop()


def simulator(**rates):
    """The simulator without injected faults unless asked: a fault rate near its alert
    threshold may fire a rule on a slow run, and the badge is asserted OK."""
    return SimulatedSource(seed=7, batch_size=10, spread=0.2,
                           **{**dict.fromkeys(FAULTS, 0.0), **rates})


def number(dash_duo, selector):
    text = dash_duo.find_element(selector).text.replace(",", "")
    return int(text) if text.isdigit() else -1


def trace_lengths(dash_duo):
    return dash_duo.driver.execute_script(
        "const g = document.querySelector('#chart-series .js-plotly-plot');"
        "return g && g.data ? g.data.map(t => t.x.length) : [];")


def wait(dash_duo, cond, msg, timeout):
    dash_duo._wait_for(lambda _: cond(), timeout=timeout, msg=msg)


def grid_text(dash_duo, grid_id):
    # AG Grid renders rows only once its element is on screen: scroll to it, then read. The
    # jump is instant: Bootstrap makes page scrolling smooth, and mid-animation the grid may
    # still be off screen when read.
    el = dash_duo.find_element(f"#{grid_id}")
    return dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});"
        "return arguments[0].innerText;", el)


def click_refresh(dash_duo, label):
    dash_duo.driver.find_element(
        By.XPATH, f"//*[@id='refresh-picker']//label[normalize-space()='{label}']").click()


def test_kpis_chart_pause_and_resume(dash_duo, make_app):
    """KPIs and the time series (one line per sensor) grow across ticks, freeze while paused
    and move again on resume; the browser console stays empty."""
    dash_duo.start_server(make_app(simulator()))
    wait(dash_duo, lambda: number(dash_duo, "#kpi-total") > 0, "no records counted", FIRST)
    wait(dash_duo, lambda: len(trace_lengths(dash_duo)) == 5, "no line per sensor", TICK)
    first_total, first_points = number(dash_duo, "#kpi-total"), sum(trace_lengths(dash_duo))
    wait(dash_duo, lambda: number(dash_duo, "#kpi-total") > first_total, "KPI did not move", TICK)
    wait(dash_duo, lambda: sum(trace_lengths(dash_duo)) > first_points, "chart did not grow", TICK)
    assert dash_duo.find_element("#status-badge").text == "OK"
    assert "s ago" in dash_duo.find_element("#last-update").text
    # The pipeline-history card renders its chart (one trace per persisted metric) on load.
    wait(dash_duo, lambda: len(_history_traces(dash_duo)) == 7, "no pipeline-history chart",
         within(history_refresh(StorageOptions().snapshot_interval)))
    assert "1 h" in dash_duo.find_element("#history-range").text
    click_refresh(dash_duo, "Paused")

    def shown():
        return (number(dash_duo, "#kpi-total"), dash_duo.find_element("#last-update").text,
                sum(trace_lengths(dash_duo)))
    # Paused: once a tick already in flight has landed, nothing changes any more. Unchanged
    # for three refresh periods shows it (live, the simulator moves the KPI every tick).
    frozen = wait_stable(shown, hold=3 * REFRESH, timeout=TICK + 3 * REFRESH)
    click_refresh(dash_duo, "1 s")
    wait(dash_duo, lambda: number(dash_duo, "#kpi-total") > frozen[0], "resume did not update",
         TICK)
    wait(dash_duo, lambda: sum(trace_lengths(dash_duo)) > frozen[2], "chart did not resume", TICK)
    assert dash_duo.get_logs() == []


def screenshot_path(tmp_path: Path) -> Path:
    """Where the screenshot goes: docs/img/dashboard.png (the README's picture) only when
    STREAMDASH_UPDATE_SCREENSHOT=1, so a test run does not leave the work tree modified."""
    if os.environ.get("STREAMDASH_UPDATE_SCREENSHOT") == "1":
        return DOCS_SCREENSHOT
    return tmp_path / "dashboard.png"


def test_screenshot_goes_to_the_docs_only_when_asked(tmp_path, monkeypatch):
    """The README's picture is rewritten only with STREAMDASH_UPDATE_SCREENSHOT=1."""
    monkeypatch.delenv("STREAMDASH_UPDATE_SCREENSHOT", raising=False)
    assert screenshot_path(tmp_path) == tmp_path / "dashboard.png"
    monkeypatch.setenv("STREAMDASH_UPDATE_SCREENSHOT", "1")
    assert screenshot_path(tmp_path) == DOCS_SCREENSHOT
    assert DOCS_SCREENSHOT.name in (DOCS_SCREENSHOT.parents[2] / "README.md").read_text()


def test_alert_banner_appears_and_disappears_and_screenshot(dash_duo, make_app, tmp_path):
    """A high null rate fires a banner (rule, value vs threshold); a screenshot with alerts and
    quarantined records is taken (into docs/img/dashboard.png with
    STREAMDASH_UPDATE_SCREENSHOT=1); the banner goes once nulls stop."""
    source = SimulatedSource(seed=3, batch_size=10, spread=0.2, null_rate=0.0,
                             invalid_rate=0.05, duplicate_rate=0.03, late_rate=0.0)
    dash_duo.driver.set_window_size(1440, 2800)
    # Frequent snapshots and 1 s windows with 1 s lateness, so the pipeline-history and
    # window cards have lines in the screenshot.
    snapshot_interval, window, lateness = 0.5, 1, 1
    dash_duo.start_server(make_app(source, alerts=FAST_ALERTS,
                                   storage={"snapshot_interval": snapshot_interval},
                                   transforms=["dedup", {"late": {"lateness": lateness}},
                                               {"window": {"size": window}}]))
    wait(dash_duo, lambda: number(dash_duo, "#kpi-total") > 0, "no records counted", FIRST)
    assert _banner(dash_duo) == ""
    source.set_rates(null_rate=0.3)
    wait(dash_duo, lambda: "null_rate_high" in _banner(dash_duo), "no banner appeared",
         ALERT_CHANGE)
    assert "threshold 0.05" in _banner(dash_duo) and "since" in _banner(dash_duo)
    wait(dash_duo, lambda: "required" in grid_text(dash_duo, "grid-quarantine"),
         "no quarantined record for the screenshot", TICK)
    dash_duo.driver.find_element(
        By.XPATH, "//*[@id='history-range']//label[normalize-space()='15 min']").click()
    # The 15 min chart averages snapshots into buckets of range/HISTORY_POINTS seconds; four
    # non-empty buckets take four bucket spans. A snapshot reaches the browser within two
    # history periods (LiveView.history: the shared cache's period ends, then this browser's
    # history tick fires): that, not the 1 s tick, bounds the wait.
    bucket = HISTORY_RANGES["15 min"] / HISTORY_POINTS
    period = history_refresh(snapshot_interval, HISTORY_RANGES["15 min"])
    wait(dash_duo, lambda: _points(dash_duo, "chart-history") > 3,
         "history chart shows no snapshots", 4 * max(bucket, snapshot_interval)
         + within(period, period))
    # A window shows once the watermark passed its end plus the lateness.
    wait(dash_duo, lambda: _points(dash_duo, "chart-windows") > 2,
         "window chart shows no windows", within(SOURCE_INTERVAL, 3 * window + lateness, REFRESH))
    dash_duo.driver.execute_script("window.scrollTo(0, 0)")
    total = number(dash_duo, "#kpi-total")  # one more tick, so the picture shows a settled page
    wait(dash_duo, lambda: number(dash_duo, "#kpi-total") > total, "KPI did not move", TICK)
    shot = screenshot_path(tmp_path)
    shot.parent.mkdir(parents=True, exist_ok=True)
    dash_duo.driver.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    source.set_rates(null_rate=0.0)
    wait(dash_duo, lambda: _banner(dash_duo) == "", "banner did not disappear", ALERT_CHANGE)
    assert "firing → resolved" in grid_text(dash_duo, "grid-alerts")
    assert dash_duo.get_logs() == []


def _history_traces(dash_duo):
    return dash_duo.driver.execute_script(
        "const g = document.querySelector('#chart-history .js-plotly-plot');"
        "return g && g.data ? g.data.map(t => t.name) : [];")


def _points(dash_duo, chart_id):
    """The most non-null points any trace of the chart ``chart_id`` shows."""
    return dash_duo.driver.execute_script(
        "const g = document.querySelector(arguments[0] + ' .js-plotly-plot');"
        "return g && g.data ? Math.max(0, ...g.data.map("
        "t => (t.y || []).filter(y => y !== null).length)) : 0;", f"#{chart_id}")


def _banner(dash_duo):
    # A closed dbc.Alert leaves the DOM: read through JS so a vanished slot reads as "".
    return dash_duo.driver.execute_script(
        "const el = document.getElementById('alert-slot-0'); return el ? el.innerText : '';")


def test_quarantine_xss_and_stale_warning(dash_duo, make_app):
    """A rejected record shows with its reason; markup from the stream stays text; a stopped
    source raises the stale warning."""
    batches = [[{"id": 1, "key": XSS_SCRIPT, "value": 1.5, "note": XSS_IMG},
                {"key": "k", "value": 2.0, "note": XSS_IMG},  # no id: rejected
                {"id": 3, "key": XSS_SCRIPT, "value": 2.5, "note": "ok"}]]
    dash_duo.start_server(make_app(ListSource(batches)))
    wait(dash_duo, lambda: "id: required" in grid_text(dash_duo, "grid-quarantine"),
         "quarantine table does not show the rejection reason", FIRST)
    assert '"note":"<img src=x' in grid_text(dash_duo, "grid-quarantine")
    wait(dash_duo, lambda: XSS_IMG in grid_text(dash_duo, "grid-latest"),
         "latest records do not show the markup as text", TICK)
    legend = dash_duo.find_element("#chart-series")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({behavior: 'instant'})", legend)
    legend = legend.text
    assert "<script>window.__xss=2" in legend  # the key is shown literally in the legend
    assert dash_duo.driver.title == "streamdash"
    assert dash_duo.driver.execute_script("return window.__xss === undefined")
    assert dash_duo.driver.execute_script("return document.querySelectorAll('img').length") == 0
    dash_duo.driver.execute_script("window.scrollTo(0, 0)")
    # Stale: no new records for STALE_AFTER_INTERVALS of the longer of the fetch interval and
    # the refresh (LiveView.summary); the next tick shows it.
    stale_after = STALE_AFTER_INTERVALS * max(SOURCE_INTERVAL, REFRESH)
    wait(dash_duo, lambda: dash_duo.find_element("#stale-warning").is_displayed(),
         "no stale warning after the source stopped", within(stale_after, REFRESH))
    assert "no new records" in dash_duo.find_element("#stale-warning").text
    assert dash_duo.get_logs() == []


def test_late_records_table_shows_a_late_record(dash_duo, make_app):
    """A record older than the watermark of earlier batches appears in the Late records table
    with its event time and how late it was; on-time records do not."""
    t0 = 1_764_198_000.0
    schema = {"key": "id", "event_time": "ts",
              "fields": {"id": "int", "key": "str", "value": "float", "ts": "timestamp"}}
    batches = [[{"id": 1, "key": "k", "value": 1.0, "ts": t0},
                {"id": 2, "key": "k", "value": 2.0, "ts": t0 - 20}],
               [{"id": 3, "key": "k", "value": 3.0, "ts": t0 - 600}]]
    dash_duo.start_server(make_app(ListSource(batches), schema=schema))
    # The late record comes with the second poll and the next tick shows it, once the page
    # has loaded (its own round trips: layout, scripts, the first callbacks).
    wait(dash_duo, lambda: "2025-11-26T22:50:00.000Z" in grid_text(dash_duo, "grid-late"),
         "the Late records table does not show the late record",
         within(SOURCE_INTERVAL, SOURCE_INTERVAL, REFRESH) + ROUND_TRIP)
    text = grid_text(dash_duo, "grid-late")
    assert "late by (s)" in text and "570" in text and '"id":3' in text
    assert '"id":1' not in text and '"id":2' not in text
    assert dash_duo.get_logs() == []
