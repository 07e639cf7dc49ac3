"""Shared fixtures and the browser-test policy.

Browser tests (any test using a ``dash_duo``-style fixture, or marked ``e2e``) are skipped with a
clear reason when Chromium or chromedriver is missing locally, but fail when ``CI=true``: CI
must install them (``.ci/run`` does). ``dash_duo`` and ``dash_br`` here replace dash's own: they
share one Chromium per test process and give each test a clean one (``tests/browser.py``).
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import sys
import textwrap

import pytest

from tests.browser import BrowserPool, open_browser

# Real redis-server, mosquitto and PostgreSQL fixtures (tests/servers.py); the history suite
# parametrised over both backends (tests/history_backends.py).
pytest_plugins = ("tests.servers", "tests.history_backends")

BROWSER_FIXTURES = {"dash_duo", "dash_br", "dash_duo_mp", "dash_thread_server", "browser_pool"}


def browser_missing() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    missing = [name for name in ("chromedriver",) if shutil.which(name) is None]
    if not (shutil.which("chromium") or shutil.which("google-chrome") or shutil.which("chrome")
            or os.environ.get("DASH_TEST_CHROMEPATH")):
        missing.append("chromium")
    return f"{' and '.join(missing)} not found on PATH" if missing else None


@pytest.fixture(autouse=True)
def _restore_streamdash_logger():
    """Undo configure_logging() after each test, so caplog sees the next test's records."""
    logger = logging.getLogger("streamdash")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield
    logger.handlers[:] = saved[0]
    logger.propagate, logger.level = saved[1], saved[2]


@pytest.fixture
def scratch_package(tmp_path, monkeypatch):
    """A function writing a throwaway package of ``{module: source}`` on ``sys.path``; returns
    its name and ``__path__`` (what a registry discovers), and unloads it after the test."""
    made: list[str] = []

    def make(files: dict[str, str]) -> tuple[str, list[str]]:
        name = f"scratch_{len(made)}_{tmp_path.name.replace('-', '_')}"
        root = tmp_path / name
        root.mkdir()
        (root / "__init__.py").write_text("")
        for module, text in files.items():
            (root / f"{module}.py").write_text(textwrap.dedent(text))
        made.append(name)
        importlib.invalidate_caches()
        return name, [str(root)]

    monkeypatch.syspath_prepend(str(tmp_path))
    yield make
    for name in made:
        for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[mod]


@pytest.fixture(scope="session")
def browser_pool():
    """This test process's one Chromium, shared by its browser tests (one xdist worker runs
    them all: see pytest_itemcollected)."""
    pool = BrowserPool()
    yield pool
    pool.discard()


@pytest.fixture
def dash_duo(request, dash_thread_server, browser_pool, tmp_path):
    """dash's ``dash_duo`` (a Dash server of the test's own and a browser), on the shared
    Chromium, cleaned after the test."""
    with open_browser(request, browser_pool, tmp_path / "download", dash_thread_server) as duo:
        yield duo


@pytest.fixture
def dash_br(request, browser_pool, tmp_path):
    """dash's ``dash_br`` (a browser without a server), on the shared Chromium."""
    with open_browser(request, browser_pool, tmp_path / "download") as browser:
        yield browser


def is_browser_test(item: pytest.Item) -> bool:
    """True for a test that drives Chromium (a ``dash_duo``-style fixture or the e2e mark)."""
    return bool(BROWSER_FIXTURES & set(getattr(item, "fixturenames", ()))
                or item.get_closest_marker("e2e"))


def pytest_itemcollected(item: pytest.Item) -> None:
    # Under `pytest -n auto --dist loadgroup` the browser tests run one after another on one
    # worker: two Chromiums on a 2-core machine would starve the pages the tests wait for.
    if is_browser_test(item):
        item.add_marker(pytest.mark.xdist_group("browser"))


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """What ``-n auto`` means here: one worker per core, plus one each for the two serial
    groups (``browser`` and ``roles``), whose tests mostly wait on the product's timers
    (refresh, flush, lease periods) rather than use a core. Measured on 2 cores, quiet:
    ``-n 2`` 217 s, ``-n 3`` 160 s, ``-n 4`` 140 s, ``-n 6`` 132 s (docs/operations.md). An
    explicit ``-n N`` or ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still decides."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it
    return len(os.sched_getaffinity(0)) + 2


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: browser test (needs chromium + chromedriver)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = browser_missing()
    if reason is None or os.environ.get("CI") == "true":
        return  # in CI a missing browser must fail loudly, not skip
    skip = pytest.mark.skip(reason=f"browser test skipped: {reason} (install Debian's chromium "
                                   "and chromium-driver; CI=true makes this a failure)")
    for item in items:
        if is_browser_test(item):
            item.add_marker(skip)
