"""The shared Chromium of the browser tests (tests/browser.py): each test gets it back as a new
one starts, and a test that killed it does not break the next one.

Each ``with open_browser(...)`` block below is what one test's ``dash_br`` does (``dash_duo``
adds a server); two blocks in a row are two tests in a row on the worker's pool.
"""

import pytest
from selenium.common.exceptions import NoAlertPresentException

from tests.browser import open_browser
from tests.httpserver import Reply, ScriptedServer

pytestmark = pytest.mark.e2e

# No favicon request (a 404 would be a console error of its own).
PAGE = b'<!doctype html><html><head><link rel="icon" href="data:,"></head><body>page</body></html>'
FOCUS = "return [document.visibilityState, document.hasFocus()]"
STATE = ("return [localStorage.getItem('left'), sessionStorage.getItem('left'), document.cookie,"
         " window.name]")


@pytest.fixture
def server():
    with ScriptedServer() as srv:
        srv.route("/", Reply(200, PAGE, {"Content-Type": "text/html"}))
        yield srv


def timeouts(driver):
    t = driver.timeouts
    return t.implicit_wait, t.page_load, t.script


def localhost(url):
    """The same server under another origin (host name instead of address)."""
    return url.replace("127.0.0.1", "localhost")


def test_the_next_test_gets_the_same_chromium_as_new(request, browser_pool, server, tmp_path):
    """Storage, cookies, windows, console errors, window size, timeouts and DevTools headers a
    test leaves behind are gone for the next test, on every origin it visited, and its tab is
    visible and focused like a new browser's; the browser itself is reused (no new Chromium
    started)."""
    with open_browser(request, browser_pool, tmp_path / "a") as first:
        driver, starts = first.driver, browser_pool.starts
        clean_size, clean_timeouts = driver.get_window_size(), timeouts(driver)
        for url in (server.url(), localhost(server.url())):
            driver.get(url)
            driver.execute_script("localStorage.setItem('left', 'x');"
                                  "sessionStorage.setItem('left', 'x');"
                                  "document.cookie = 'left=x; max-age=3600'; window.name = 'left';"
                                  "console.error('left over')")
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"X-Left": "x"}})
        driver.execute_script("window.open(arguments[0])", server.url())
        driver.set_window_size(1111, 999)
        driver.set_script_timeout(3)
        assert len(driver.window_handles) == 2 and first.get_logs()

    with open_browser(request, browser_pool, tmp_path / "b") as second:
        assert second.driver.session_id == driver.session_id and browser_pool.starts == starts
        assert second.driver.window_handles == [second.driver.current_window_handle]
        assert second.driver.current_url == "about:blank"
        assert second.driver.execute_script(FOCUS) == ["visible", True]
        assert second.get_logs() == []
        assert second.driver.get_window_size() == clean_size
        assert timeouts(second.driver) == clean_timeouts
        for url in (server.url(), localhost(server.url())):
            second.driver.get(url)
            assert second.driver.execute_script(STATE) == [None, None, "", ""], url
        assert "X-Left" not in server.hits("/")[-1].headers
        assert second.get_logs() == []


def test_a_test_that_quits_the_browser_leaves_a_working_one(request, browser_pool, server,
                                                             tmp_path):
    """A browser quit during a test, or gone between tests, is replaced by a new Chromium."""
    with open_browser(request, browser_pool, tmp_path / "a") as first:
        first.driver.quit()
    starts = browser_pool.starts
    with open_browser(request, browser_pool, tmp_path / "b") as second:
        assert browser_pool.starts == starts + 1
        gone = second.driver
    gone.quit()  # dies after the test: noticed when the next one asks for it
    with open_browser(request, browser_pool, tmp_path / "c") as third:
        assert browser_pool.starts == starts + 2
        third.driver.get(server.url())
        assert third.find_element("body").text == "page" and third.get_logs() == []


def test_an_open_alert_does_not_block_the_next_test(request, browser_pool, server, tmp_path):
    """A page left with an alert open is closed; the same browser goes on."""
    with open_browser(request, browser_pool, tmp_path / "a") as first:
        first.driver.get(server.url())
        first.driver.execute_script("setTimeout(() => alert('left open'), 0)")
        first._wait_for(lambda d: _alert_open(d), timeout=5, msg="the alert never opened")
        starts = browser_pool.starts
    with open_browser(request, browser_pool, tmp_path / "b") as second:
        assert browser_pool.starts == starts
        second.driver.get(server.url())
        assert second.find_element("body").text == "page"


def _alert_open(driver):
    try:
        driver.switch_to.alert  # noqa: B018 - raises while no alert is open
    except NoAlertPresentException:
        return False
    return True
