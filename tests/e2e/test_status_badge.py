"""Browser test of the header's status badge: it follows the one status policy and names the
firing alerts in its hover text (the badge's ``title``)."""

from __future__ import annotations

import threading

import pytest

from streamdash.app import create_app
from streamdash.config import Settings
from streamdash.errors import SourceError
from streamdash.sources.base import FieldHints, Source
from tests.helpers import within

pytestmark = pytest.mark.e2e

INTERVAL = 0.2            # source.interval
REFRESH = 1.0             # dashboard.refresh
ALERT_WINDOW, ALERT_INTERVAL = 1.0, 0.25
ALERTS = {"window": ALERT_WINDOW, "interval": ALERT_INTERVAL, "rules": [
    {"name": "null_rate_high", "for": 0, "keep_firing_for": 0}]}
# A change shows once a fetch brought it, the alert window turned over (or, for source_down,
# 3 intervals passed without a successful fetch), the monitor evaluated and a tick read it.
SHOWS_WITHIN = within(INTERVAL, max(ALERT_WINDOW, 3 * INTERVAL) + ALERT_INTERVAL, REFRESH)


class Switchable(Source):
    """Records with or without nulls, or failures, as the test switches."""

    kind = "switchable"
    hints = FieldHints(value_field="value", key_field="", required=("id",))

    def __init__(self):
        super().__init__("switchable")
        self.nulls, self.down = threading.Event(), threading.Event()
        self.n = 0

    def fetch(self):
        if self.down.is_set():
            raise SourceError("connection refused", source=self.name, kind="connection")
        self.n += 1
        return [{"id": self.n, "value": None if self.nulls.is_set() else 1.0}]


def badge(dash_duo):
    el = dash_duo.find_element("#status-badge")
    return el.text, el.get_attribute("title") or ""


def wait_badge(dash_duo, text, *words):
    dash_duo._wait_for(lambda _: badge(dash_duo)[0] == text
                       and all(w in badge(dash_duo)[1] for w in words),
                       timeout=SHOWS_WITHIN, msg=f"badge not {text} naming {words}")


def test_badge_says_ok_degraded_down_and_names_the_firing_alert(dash_duo):
    """OK with nothing firing; DEGRADED naming null_rate_high while nulls arrive; OK again;
    DOWN naming source_down once the source fails."""
    source = Switchable()
    app = create_app(Settings({"source.interval": INTERVAL, "dashboard.refresh": REFRESH,
                               "alerts": ALERTS}), source)
    try:
        dash_duo.start_server(app)
        wait_badge(dash_duo, "OK", "no alert firing")
        source.nulls.set()
        wait_badge(dash_duo, "DEGRADED", "null_rate_high (warning)")
        assert dash_duo.find_element("#status-badge").get_attribute("class").count("warning")
        source.nulls.clear()
        wait_badge(dash_duo, "OK", "no alert firing")
        source.down.set()
        wait_badge(dash_duo, "DOWN", "source_down (critical)")
        assert "polling every 0.2 s" in dash_duo.find_element("#poll-interval").text
        assert dash_duo.get_logs() == []
    finally:
        app.runtime.stop()
