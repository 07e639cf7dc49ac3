"""Browser tests of the dashboard with sparse or unfamiliar data (dash_duo, headless Chromium).

Each case is one a new user meets first: a source with 1, 3 or 10,000 points, a price feed in
the 40,000s, a CSV replay. Each test saves a screenshot to ``/tmp/streamdash-sparse-*.png``
(look at them after a change to the charts). Waits are derived from the refresh period used.
"""

import csv
import math
import re
import socket
import time
from pathlib import Path

import pytest
from selenium.common.exceptions import TimeoutException

from streamdash.app import create_app
from streamdash.config import Settings
from streamdash.dashboard.figures.history import HISTORY_PAD, MIN_HISTORY_SPAN
from streamdash.dashboard.live import history_refresh
from streamdash.models import utc_iso
from streamdash.testing import ListSource

pytestmark = pytest.mark.e2e

#: Dashboard refresh (s) and source interval the tests run with; every wait derives from them.
REFRESH = 1.0
INTERVAL = 0.2
#: Conditions must hold within this many refresh periods (the page's first load included;
#: generous: the shared 2-core test machine is often loaded far beyond its cores).
TICKS = 30
TIMEOUT = TICKS * REFRESH
#: Metrics snapshots (the pipeline-history chart's points) are taken this often (s).
SNAPSHOT_INTERVAL = 0.5
SHOTS = Path("/tmp")
#: A tick label with a fraction of a second (``00:08:43.4315``): unreadable for a live chart.
SUBSECOND = re.compile(r"\d:\d\d\.\d")


@pytest.fixture
def make_app():
    """Build apps for a test and always stop their runtimes afterwards."""
    apps = []

    def make(source=None, **values):
        settings = Settings({"source.interval": INTERVAL, "dashboard.refresh": REFRESH,
                             **values})
        apps.append(create_app(settings, source))
        return apps[-1]
    yield make
    for app in apps:
        app.runtime.stop()


def readings(n, *, start=None, step=1.0, key="k", value=lambda i: 20.0 + i % 7):
    """``n`` valid ListSource records, ``step`` seconds apart in event time."""
    start = time.time() - n * step if start is None else start
    return [{"id": i, "key": key, "ts": utc_iso(start + i * step), "value": value(i)}
            for i in range(n)]


def serve(dash_duo, app):
    """Serve ``app`` on a free loopback port (other test runs on this machine may hold 8050)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dash_duo.start_server(app, port=port)


def wait(dash_duo, cond, msg, timeout=TIMEOUT):
    """Wait for ``cond``; on timeout fail with ``msg`` (or ``msg()``, to show what was there)."""
    try:
        dash_duo._wait_for(lambda _: cond(), timeout=timeout, msg="")
    except TimeoutException:
        raise AssertionError(msg() if callable(msg) else msg) from None


def js(dash_duo, script, *args):
    return dash_duo.driver.execute_script(script, *args)


def points(dash_duo, chart_id):
    """Points per trace of a chart as the browser holds them."""
    return js(dash_duo, "const g = document.querySelector(arguments[0] + ' .js-plotly-plot');"
                        "return g && g.data ? g.data.map(t => t.x.length) : [];", f"#{chart_id}")


def markers(dash_duo, chart_id):
    """How many point markers the chart draws."""
    return js(dash_duo, "return document.querySelectorAll(arguments[0] + ' .scatterlayer "
                        ".point').length;", f"#{chart_id}")


def tick_labels(dash_duo, chart_id, axis):
    return js(dash_duo, "return [...document.querySelectorAll(arguments[0] + ' .' + arguments[1]"
                        " + 'tick text')].map(t => t.textContent);", f"#{chart_id}", axis)


def rect(dash_duo, selector):
    return js(dash_duo, "const e = document.querySelector(arguments[0]);"
                        "if (!e) return null; const r = e.getBoundingClientRect();"
                        "return [r.left, r.top, r.right, r.bottom];", selector)


def rects(dash_duo, selector):
    return js(dash_duo, "return [...document.querySelectorAll(arguments[0])].map(e => {"
                        "const r = e.getBoundingClientRect();"
                        "return [r.left, r.top, r.right, r.bottom];});", selector)


def overlap(a, b):
    """True when two [left, top, right, bottom] boxes share any area."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def shoot(dash_duo, name, element_id=None):
    """Save a screenshot of the page (or of the card holding ``element_id``) as
    /tmp/streamdash-sparse-<name>.png."""
    path = SHOTS / f"streamdash-sparse-{name}.png"
    if element_id:
        js(dash_duo, "const card = document.getElementById(arguments[0]).closest('.card');"
                     "window.scrollTo({top: card.getBoundingClientRect().top + window.scrollY"
                     " - 8, behavior: 'instant'});",  # Bootstrap makes scrolling smooth
           element_id)
    dash_duo.driver.save_screenshot(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


@pytest.mark.parametrize("n", [1, 3])
def test_few_points_show_as_markers_with_readable_times(dash_duo, make_app, n):
    """With 1 or 3 points every point is drawn as a marker, the time axis has no sub-second
    ticks, and the pipeline history opens on 15 min with its axis starting at this run."""
    app = make_app(ListSource([readings(n)]),
                   storage={"snapshot_interval": SNAPSHOT_INTERVAL})
    dash_duo.driver.set_window_size(1280, 1400)
    serve(dash_duo, app)
    wait(dash_duo, lambda: sum(points(dash_duo, "chart-series")) == n,
         lambda: f"no points charted: {points(dash_duo, 'chart-series')}")
    wait(dash_duo, lambda: markers(dash_duo, "chart-series") == n, "points are not drawn")
    labels = tick_labels(dash_duo, "chart-series", "x")
    assert labels and not [t for t in labels if SUBSECOND.search(t)], labels
    shoot(dash_duo, f"{n}-points")
    # The history chart opens on the shortest range, its axis clamped to this run's snapshots.
    assert dash_duo.find_element("#history-range input:checked").get_attribute("value") \
        == "15 min"
    # The history chart re-reads the store every history_refresh seconds: wait for a read
    # that found this run's snapshots (taken every SNAPSHOT_INTERVAL).
    wait(dash_duo, lambda: max(points(dash_duo, "chart-history") or [0]) > 0,
         "no snapshots in the history chart",
         timeout=2 * history_refresh(SNAPSHOT_INTERVAL) + TIMEOUT)
    first, last = js(dash_duo, "return document.querySelector('#chart-history "
                              ".js-plotly-plot').layout.xaxis.range;")
    assert last - first <= MIN_HISTORY_SPAN * (1 + HISTORY_PAD) * 1000 + 1
    shoot(dash_duo, f"{n}-points-history", "chart-history")
    assert dash_duo.get_logs() == []


def test_ten_thousand_points_draw_lines_only(dash_duo, make_app):
    """10,000 points are drawn as a line (no markers) with second-resolution time ticks."""
    n = 10_000
    app = make_app(ListSource([readings(n, step=0.01,
                                        value=lambda i: 20 + 5 * math.sin(i / 800))]))
    dash_duo.driver.set_window_size(1280, 1400)
    serve(dash_duo, app)
    wait(dash_duo, lambda: sum(points(dash_duo, "chart-series")) == n, "not every point charted")
    assert markers(dash_duo, "chart-series") == 0
    assert js(dash_duo, "return document.querySelectorAll('#chart-series .scatterlayer "
                        ".js-line').length;") == 1
    labels = tick_labels(dash_duo, "chart-series", "x")
    assert labels and not [t for t in labels if SUBSECOND.search(t)], labels
    shoot(dash_duo, "10000-points")
    assert dash_duo.get_logs() == []


def test_quarantine_table_shows_time_and_record(dash_duo, make_app):
    """A rejected record's time and whole record are readable in the quarantine table."""
    bad = {"key": "k", "ts": utc_iso(time.time()), "value": 1.0,
           "note": "a rejected record long enough to need more than one line " * 2}
    app = make_app(ListSource([readings(3) + [bad]]))
    dash_duo.driver.set_window_size(1280, 1400)
    serve(dash_duo, app)
    grid = "#grid-quarantine"
    wait(dash_duo, lambda: js(dash_duo, "return document.querySelectorAll(arguments[0] + "
                                        "' .ag-row [col-id=record]').length;", grid) == 1,
         "no quarantined row")
    js(dash_duo, "document.querySelector(arguments[0])"
                 ".scrollIntoView({block: 'center', behavior: 'instant'})", grid)
    # Each cell shows its whole text: nothing is cut off at the cell's edge.
    for col in ("at", "record"):
        clipped = js(dash_duo, "const v = document.querySelector(arguments[0] + ' .ag-row "
                               "[col-id=' + arguments[1] + '] .ag-cell-value') || document"
                               ".querySelector(arguments[0] + ' .ag-row [col-id=' + arguments[1]"
                               " + ']'); return [v.scrollWidth > v.clientWidth + 1, "
                               "v.scrollHeight > v.clientHeight + 1, v.innerText];", grid, col)
        assert clipped[:2] == [False, False], (col, clipped)
    text = dash_duo.find_element(grid).text
    assert bad["note"].strip() in text.replace("\n", " ")
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text)
    # No column is pushed out of sight: the grid needs no horizontal scrolling.
    assert js(dash_duo, "const v = document.querySelector(arguments[0] + ' .ag-center-cols-"
                        "viewport'); return v.scrollWidth <= v.clientWidth + 1;", grid)
    shoot(dash_duo, "quarantine", "grid-quarantine")
    assert dash_duo.get_logs() == []


PRICE_SCHEMA = {"key": "id", "event_time": "ts", "fields": {
    "id": "int", "ts": {"type": "timestamp"}, "key": "str", "value": "float"}}


def test_price_feed_in_the_40000s_reads_well(dash_duo, make_app):
    """Prices in the 40,000s get full tick labels clear of the axis title, the Distribution
    title stays clear of the mode bar, and the window card says why it lags the live chart."""
    t0 = time.time() - 60
    batches = [readings(10, start=t0 + 10 * b, key="BTC-USD",
                        value=lambda i, b=b: 43_210.5 + ((b * 10 + i) % 13) * 0.37)
               for b in range(6)]
    for b, batch in enumerate(batches):  # unique ids across batches (dedup keys on id)
        for i, rec in enumerate(batch):
            rec["id"] = b * 10 + i
    app = make_app(ListSource(batches), schema=PRICE_SCHEMA,
                   transforms=["dedup", {"late": {"lateness": 5}}, {"window": {"size": 2}}])
    dash_duo.driver.set_window_size(1100, 1400)
    serve(dash_duo, app)
    wait(dash_duo, lambda: sum(points(dash_duo, "chart-series")) == 60, "prices not charted")
    wait(dash_duo, lambda: tick_labels(dash_duo, "chart-series", "y"), "no y ticks")
    labels = tick_labels(dash_duo, "chart-series", "y")
    assert all(re.fullmatch(r"43,2\d\d(\.\d+)?", t) for t in labels), labels
    title = rect(dash_duo, "#chart-series .g-ytitle")
    assert title is not None
    assert not [r for r in rects(dash_duo, "#chart-series .ytick text") if overlap(r, title)]
    # Distribution: its title is clear of the mode bar (present, shown on hover).
    wait(dash_duo, lambda: rect(dash_duo, "#chart-histogram .modebar") is not None
         and rect(dash_duo, "#chart-histogram .gtitle") is not None, "no histogram title")
    assert not overlap(rect(dash_duo, "#chart-histogram .modebar"),
                       rect(dash_duo, "#chart-histogram .gtitle"))
    hist_x = tick_labels(dash_duo, "chart-histogram", "x")
    assert hist_x and not [t for t in hist_x if t.endswith("k")], hist_x
    # The window card explains its lag from the window rule: 2 s windows, 5 s lateness.
    text = dash_duo.find_element("#window-note").text
    assert "2 s windows" in text and "5 s (the lateness)" in text and "5–7 s" in text, text
    wait(dash_duo, lambda: points(dash_duo, "chart-windows"), "no closed window charted")
    shoot(dash_duo, "price")
    assert dash_duo.get_logs() == []


def test_csv_replay_picks_key_and_time_columns(dash_duo, make_app, tmp_path):
    """A CSV replay charts one line per sensor against the file's time column."""
    path = tmp_path / "readings.csv"
    t0 = time.time() - 30
    rows = [{"ts": utc_iso(t0 + i), "sensor": f"sensor-{i % 3}", "temperature": 20 + i % 5,
             "note": "ok"} for i in range(30)]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    app = make_app(**{"source.type": "replay", "source.path": str(path), "source.rate": 1000})
    dash_duo.driver.set_window_size(1280, 1400)
    serve(dash_duo, app)
    wait(dash_duo, lambda: sum(points(dash_duo, "chart-series")) == 30, "replay not charted")
    assert "sensor" in dash_duo.find_element("#key-field").text
    assert "temperature" in dash_duo.find_element("#value-field").text
    names, xs, axis = js(dash_duo, "const g = document.querySelector('#chart-series "
                                   ".js-plotly-plot'); return [g.data.map(t => t.name), "
                                   "g.data[0].x, g._fullLayout.xaxis.type];")
    assert names == ["sensor-0", "sensor-1", "sensor-2"]
    assert xs == [r["ts"] for r in rows if r["sensor"] == "sensor-0"] and axis == "date"
    shoot(dash_duo, "csv")
    assert dash_duo.get_logs() == []
