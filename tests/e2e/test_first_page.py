"""Browser test: the page loads cleanly and its numbers move across refresh intervals."""

import pytest

from streamdash.app import create_app
from streamdash.config import Settings
from streamdash.sources.simulator import SimulatedSource
from tests.helpers import within

pytestmark = pytest.mark.e2e

SOURCE_INTERVAL, REFRESH = 0.2, 0.5
#: A new record shows once the producer fetched it and the next browser tick read it.
TICK = within(SOURCE_INTERVAL, REFRESH)


@pytest.fixture
def live_app():
    settings = Settings({"source.interval": SOURCE_INTERVAL, "dashboard.refresh": REFRESH})
    app = create_app(settings, SimulatedSource(seed=1, batch_size=5, spread=0.2))
    yield app
    app.runtime.stop()


def test_counts_and_update_time_move(dash_duo, live_app):
    """Record count grows and the last-update time changes; the console stays empty."""
    dash_duo.start_server(live_app)
    dash_duo.wait_for_element("#kpi-total", timeout=TICK)
    first_count = _wait_number(dash_duo, "#kpi-total")
    first_update = dash_duo.find_element("#last-update").text
    dash_duo._wait_for(lambda _: _number(dash_duo.find_element("#kpi-total").text) > first_count,
                       timeout=TICK, msg="record count did not grow")
    # The update time is shown to the second: it changes within a second plus a tick.
    dash_duo._wait_for(lambda _: dash_duo.find_element("#last-update").text != first_update,
                       timeout=TICK + 1, msg="last-update time did not change")
    assert dash_duo.get_logs() == []


def _number(text):
    digits = text.replace(",", "")
    return int(digits) if digits.isdigit() else -1


def _wait_number(dash_duo, selector):
    dash_duo._wait_for(lambda _: _number(dash_duo.find_element(selector).text) > 0, timeout=TICK,
                       msg=f"{selector} never showed a number")
    return _number(dash_duo.find_element(selector).text)
