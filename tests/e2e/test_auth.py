"""Browser test: with a login configured, a stranger gets 401 and a logged-in user a live page.

Logging in: in headless Chromium (chromedriver, selenium 4.2) credentials in the URL
(``http://user:pass@host/``) open the page but do not reach Dash's own requests (the page stays
on "Loading..."), so the test sends the ``Authorization`` header on every request through the
DevTools protocol (``Network.setExtraHTTPHeaders``), as a browser does once the user typed the
password into its Basic-auth dialog.
"""

import base64
import socket

import pytest
import requests
from werkzeug.security import generate_password_hash

from streamdash.app import create_app
from streamdash.auth_config import hash_token
from streamdash.config import Settings
from streamdash.sources.simulator import SimulatedSource
from tests.e2e.pages import assert_counts_and_update_time_move
from tests.helpers import within

pytestmark = pytest.mark.e2e

PASSWORD = "browser-test-password"
TOKEN = "browser-test-token-0123456789"
INTERVAL, REFRESH = 0.2, 0.5
#: A new record shows once the producer fetched it and the next browser tick read it.
TICK = within(INTERVAL, REFRESH)


@pytest.fixture
def live_app():
    """A running app with one user (cheap hash: speed, not strength, matters here)."""
    settings = Settings({"source.interval": INTERVAL, "dashboard.refresh": REFRESH,
                         "auth": {"users": {"alice": generate_password_hash(
                                      PASSWORD, "pbkdf2:sha256:1000")},
                                  "api_tokens": {"ci": hash_token(TOKEN)}}})
    app = create_app(settings, SimulatedSource(seed=1, batch_size=5, spread=0.2))
    yield app
    app.runtime.stop()


def test_logged_out_gets_401_logged_in_sees_the_dashboard_update(dash_duo, live_app):
    """A stranger's browser gets 401 and no dashboard, the API 401 without a token and 200
    with it; after logging in the record count and update time move; the console is clean."""
    # Navigating would wait for the page; a free port, not dash's fixed 58050, so browser
    # tests running at the same time on this machine do not collide.
    dash_duo.start_server(live_app, navigate=False, port=_free_port())
    url = dash_duo.server.url
    page = requests.get(url, timeout=10)
    assert page.status_code == 401 and page.headers["WWW-Authenticate"].startswith("Basic")
    assert "_dash-config" not in page.text
    assert requests.get(url + "/api/dlq", timeout=10).status_code == 401
    assert requests.get(url + "/api/dlq", timeout=10,
                        headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200

    driver = dash_duo.driver
    driver.get(url)
    assert not driver.find_elements("css selector", "#react-entry-point")
    assert any("401" in entry["message"] for entry in dash_duo.get_logs() or [])

    login = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                           {"headers": {"Authorization": f"Basic {login}"}})
    driver.get(url)
    assert_counts_and_update_time_move(dash_duo, TICK)



def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
