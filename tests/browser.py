"""One Chromium per test process, handed to each browser test clean.

dash's own ``dash_duo`` starts Chromium for every test and quits it afterwards: about 3 s of a
browser test's ~10 s on the 2-core CI machine. :class:`BrowserPool` keeps the test process's
Chromium between tests instead, and after each test puts it back in the state a new one starts
in: a single fresh, focused tab on ``about:blank`` (no page, history, sessionStorage or per-tab
DevTools settings such as extra HTTP headers), no cookies, localStorage, IndexedDB or HTTP cache
for any origin, the console log drained, the window size and the webdriver timeouts of the
launch. Each test still gets its own Dash server (dash's ``dash_thread_server``).

A test that killed the browser (``driver.quit()``, a crash) or left it in a state the cleaning
cannot undo gets it thrown away: the next test starts a new Chromium, with dash's own options.
Only a local Chrome is kept; ``--webdriver Firefox`` or ``--remote`` get dash's classes
unchanged (a new browser per test).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from dash.testing.browser import Browser
from dash.testing.composite import DashComposite
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.remote.webdriver import WebDriver

logger = logging.getLogger(__name__)


class BrowserConfused(RuntimeError):
    """Cleaning did not leave the browser as a new one starts: it is not handed out again."""


class BrowserPool:
    """The test process's one Chromium: started on first use, cleaned after every test,
    replaced when a test killed or confused it."""

    def __init__(self) -> None:
        self._driver: WebDriver | None = None
        self._launch_size: dict[str, int] = {}
        self._launch_timeouts = None
        #: How many Chromiums this pool started (tests of the pool read it).
        self.starts = 0

    def acquire(self, start: Callable[[], WebDriver], download_path: str = "") -> WebDriver:
        """The pooled webdriver, alive; ``start()`` (dash's own launch) makes a new one when
        there is none or the last one no longer answers."""
        if self._driver is not None and not self._answers():
            logger.warning("the pooled browser no longer answers: starting a new one")
            self.discard()
        if self._driver is None:
            self._driver = start()
            self._launch_size = self._driver.get_window_size()
            self._launch_timeouts = self._driver.timeouts
            self.starts += 1
        if download_path:  # this test's own download folder (dash sets it at launch only)
            self._driver.execute_cdp_cmd("Page.setDownloadBehavior",
                                         {"behavior": "allow", "downloadPath": download_path})
        return self._driver

    def release(self) -> None:
        """Clean the browser for the next test; throw it away when that fails."""
        if self._driver is None:
            return
        try:
            self._clean(self._driver)
        except Exception as err:  # whatever the test did, the next gets a new one
            logger.warning("the browser cannot be reused (%s): the next test starts a new one",
                           err)
            self.discard()

    def discard(self) -> None:
        """Quit the browser (quietly: it may be dead already); the next acquire starts one."""
        driver, self._driver = self._driver, None
        if driver is not None:
            try:
                driver.quit()  # also stops chromedriver, even when the session is gone
            except Exception as err:
                logger.warning("quitting the browser failed: %s", err)

    def _answers(self) -> bool:
        try:
            self._driver.execute_script("return 1")
        except Exception:  # a dead chromedriver raises urllib3's errors, not selenium's
            return False
        return True

    def _clean(self, driver: WebDriver) -> None:
        stale = driver.window_handles
        for handle in stale:  # an open alert refuses every other command
            driver.switch_to.window(handle)
            _dismiss_alert(driver)
        # A new tab, not a navigation: the page, its sessionStorage and history, and the
        # DevTools settings a test made on its tab (extra HTTP headers) go with the old one.
        driver.switch_to.new_window("tab")
        fresh = driver.current_window_handle
        for handle in stale:
            driver.switch_to.window(handle)
            driver.close()
        driver.switch_to.window(fresh)
        driver.execute_cdp_cmd("Page.bringToFront", {})  # focused, as a new browser's first tab
        # "*": every origin the test visited (each test serves on a port of its own).
        driver.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": "*", "storageTypes": "all"})
        driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        driver.get_log("browser")  # drained: the next test's get_logs() sees only its own page
        driver.set_window_size(self._launch_size["width"], self._launch_size["height"])
        driver.timeouts = self._launch_timeouts
        if driver.window_handles != [fresh] or driver.current_url != "about:blank":
            raise BrowserConfused(f"after cleaning: {len(driver.window_handles)} windows, "
                                  f"at {driver.current_url}")


def _dismiss_alert(driver: WebDriver) -> None:
    try:
        driver.switch_to.alert.dismiss()
    except NoAlertPresentException:
        pass


class _FromPool:
    """A dash testing browser whose webdriver comes from, and goes back to, a BrowserPool."""

    def __init__(self, pool: BrowserPool, **kwargs) -> None:
        self._pool = pool
        super().__init__(**kwargs)

    def get_webdriver(self) -> WebDriver:
        # Called by dash's Browser.__init__ (with its retries); super() is dash's own launch.
        return self._pool.acquire(super().get_webdriver, self.download_path)

    def __exit__(self, exc_type, exc_val, traceback) -> None:
        self._pool.release()  # instead of dash's driver.quit()


class PooledBrowser(_FromPool, Browser):
    """dash's ``dash_br`` browser, on the pooled Chromium."""


class PooledDashComposite(_FromPool, DashComposite):
    """dash's ``dash_duo`` (browser + server), on the pooled Chromium."""


def reuses_browser(config: pytest.Config) -> bool:
    """Only a local Chrome is pooled (its cleaning uses the DevTools protocol)."""
    return config.getoption("webdriver") == "Chrome" and not config.getoption("remote")


def open_browser(request: pytest.FixtureRequest, pool: BrowserPool, download: Path,
                 server=None) -> Browser:
    """A dash testing browser built from the command line's dash options, as dash's own
    fixtures build it: a ``dash_duo``-style composite with ``server``, else a ``dash_br``."""
    config = request.config
    download.mkdir(exist_ok=True)
    kwargs = dict(
        browser=config.getoption("webdriver"),
        remote=config.getoption("remote"),
        remote_url=config.getoption("remote_url"),
        headless=config.getoption("headless"),
        options=config.hook.pytest_setup_options(),
        download_path=str(download),
        percy_assets_root=config.getoption("percy_assets"),
        percy_finalize=config.getoption("nopercyfinalize"),
        pause=config.getoption("pause"),
    )
    if server is not None:
        kwargs["server"] = server
    if not reuses_browser(config):
        return (Browser if server is None else DashComposite)(**kwargs)
    return (PooledBrowser if server is None else PooledDashComposite)(pool, **kwargs)
