"""Browser test: the page loads cleanly and its numbers move across refresh intervals."""

import pytest

from streamdash.app import create_app
from streamdash.config import Settings
from streamdash.sources.simulator import SimulatedSource
from tests.e2e.pages import assert_counts_and_update_time_move
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
    assert_counts_and_update_time_move(dash_duo, TICK)

