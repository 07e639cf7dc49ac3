"""Browser tests of a dashboard with two streams (dash_duo, headless Chromium): the picker
and ?stream= in the URL switch the page to the other stream's data; the overview lists
both; a stream's label full of markup stays text."""

import pytest

from streamdash.app import create_app
from streamdash.config import Settings
from tests.helpers import ROUND_TRIP, within

pytestmark = pytest.mark.e2e

SOURCE_INTERVAL, REFRESH = 0.2, 1.0
#: New data shows once the producer fetched it and the next browser tick read it.
TICK = within(SOURCE_INTERVAL, REFRESH)
#: The first wait also waits for the page (bundles, layout, first callbacks).
FIRST = TICK + ROUND_TRIP
XSS_LABEL = "<img src=x onerror=\"window.__xss=1;document.title='pwned'\">"
NO_FAULTS = dict.fromkeys(("null_rate", "duplicate_rate", "late_rate", "invalid_rate",
                           "outlier_rate"), 0)


@pytest.fixture
def app():
    """'quakes' has 5 sensors (5 lines), 'prices' 2 and a label full of markup."""
    settings = Settings({"dashboard.refresh": REFRESH, "streams": {
        "quakes": {"source": {"type": "simulated", "name": "Quakes", "seed": 1, "sensors": 5,
                              "interval": SOURCE_INTERVAL, "batch_size": 10, **NO_FAULTS},
                   "dashboard": {"refresh": REFRESH}},
        "prices": {"source": {"type": "simulated", "name": XSS_LABEL, "seed": 2, "sensors": 2,
                              "interval": SOURCE_INTERVAL, "batch_size": 4, **NO_FAULTS},
                   "dashboard": {"refresh": REFRESH}}}})
    app = create_app(settings)
    yield app
    app.runtimes.stop()


def wait(dash_duo, cond, msg, timeout):
    dash_duo._wait_for(lambda _: cond(), timeout=timeout, msg=msg)


def lines(dash_duo):
    """The names of the live chart's lines."""
    return dash_duo.driver.execute_script(
        "const g = document.querySelector('#chart-series .js-plotly-plot');"
        "return g && g.data ? g.data.map(t => t.name) : [];")


def label(dash_duo):
    return dash_duo.find_element("#source-label").text


def overview(dash_duo):
    return dash_duo.driver.execute_script(
        "return [...document.querySelectorAll('#stream-overview tr')].map(r => r.innerText);")


def assert_no_markup_ran(dash_duo):
    assert dash_duo.driver.execute_script("return window.__xss === undefined")
    assert dash_duo.driver.execute_script("return document.querySelectorAll('img').length") == 0
    assert dash_duo.driver.title == "streamdash"


def test_the_picker_switches_to_the_other_streams_data(dash_duo, app):
    """The page opens the default stream (5 lines); picking 'prices' shows its 2 lines, its
    label (as text) and ?stream=prices in the URL; the overview lists both streams."""
    dash_duo.start_server(app)
    wait(dash_duo, lambda: len(lines(dash_duo)) == 5, "the default stream's 5 lines", FIRST)
    assert label(dash_duo) == "Quakes (simulated)"
    wait(dash_duo, lambda: len(overview(dash_duo)) == 2, "an overview row per stream", TICK)
    rows = overview(dash_duo)
    assert rows[0].startswith("quakes") and rows[1].startswith("prices") and XSS_LABEL in rows[1]
    dash_duo.select_dcc_dropdown("#stream-picker", value="prices")
    wait(dash_duo, lambda: "?stream=prices" in dash_duo.driver.current_url,
         "the URL to name the stream", ROUND_TRIP)
    wait(dash_duo, lambda: len(lines(dash_duo)) == 2, "the other stream's 2 lines", TICK)
    assert label(dash_duo) == f"{XSS_LABEL} (simulated)"  # shown literally
    assert_no_markup_ran(dash_duo)
    assert dash_duo.get_logs() == []


def test_a_link_with_stream_opens_that_stream(dash_duo, app):
    """/?stream=prices opens 'prices'; the overview's link to 'quakes' goes back to it; an
    unknown ?stream= shows the default stream."""
    dash_duo.start_server(app)
    dash_duo.driver.get(f"{dash_duo.server_url}/?stream=prices")
    wait(dash_duo, lambda: len(lines(dash_duo)) == 2, "the linked stream's 2 lines", FIRST)
    assert label(dash_duo).endswith("(simulated)") and "prices" in \
        dash_duo.find_element("#stream-picker").text
    wait(dash_duo, lambda: len(overview(dash_duo)) == 2, "an overview row per stream", TICK)
    # Clicked in the page itself: the overview may be redrawn between a find and a click.
    dash_duo.driver.execute_script(
        "document.querySelector(\"#stream-overview a[href='?stream=quakes']\").click()")
    wait(dash_duo, lambda: len(lines(dash_duo)) == 5, "the default stream again", FIRST)
    assert label(dash_duo) == "Quakes (simulated)"
    dash_duo.driver.get(f"{dash_duo.server_url}/?stream=%3Cscript%3Ex")
    wait(dash_duo, lambda: len(lines(dash_duo)) == 5, "the default for an unknown name",
         FIRST)
    assert_no_markup_ran(dash_duo)
    assert dash_duo.get_logs() == []
