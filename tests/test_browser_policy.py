"""The browser-test policy in tests/conftest.py: skip locally without a browser, fail in CI."""

import pytest

from tests import conftest
from tests.browser import reuses_browser


class FakeItem:
    def __init__(self, fixtures=(), marker=None):
        self.fixturenames = list(fixtures)
        self.marker = marker
        self.markers = []

    def get_closest_marker(self, name):
        return self.marker if name == self.marker else None

    def add_marker(self, marker):
        self.markers.append(marker)


def items():
    return [FakeItem(["dash_duo"]), FakeItem(marker="e2e"), FakeItem(["tmp_path"])]


def test_browser_tests_skip_with_a_reason_when_no_browser(monkeypatch):
    """Without chromedriver, dash_duo and e2e tests are skipped naming what is missing."""
    monkeypatch.setattr(conftest.shutil, "which", lambda name: None)
    monkeypatch.delenv("DASH_TEST_CHROMEPATH", raising=False)
    monkeypatch.delenv("CI", raising=False)
    collected = items()
    conftest.pytest_collection_modifyitems(None, collected)
    browser, marked, plain = collected
    assert plain.markers == []
    for item in (browser, marked):
        (mark,) = item.markers
        assert mark.name == "skip"
        assert "chromedriver and chromium not found" in mark.kwargs["reason"]


def test_missing_browser_is_not_skipped_in_ci(monkeypatch):
    """With CI=true nothing is skipped, so a missing browser fails the run."""
    monkeypatch.setattr(conftest.shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    collected = items()
    conftest.pytest_collection_modifyitems(None, collected)
    assert all(item.markers == [] for item in collected)


@pytest.mark.parametrize("found, expected", [
    ({"chromedriver", "chromium"}, None),
    ({"chromium"}, "chromedriver not found on PATH"),
])
def test_browser_missing_names_what_is_absent(monkeypatch, found, expected):
    """browser_missing() is None when both are installed, else names the missing piece."""
    monkeypatch.setattr(conftest.shutil, "which",
                        lambda name: f"/usr/bin/{name}" if name in found else None)
    assert conftest.browser_missing() == expected


class FakeConfig:
    def __init__(self, **options):
        self.options = options

    def getoption(self, name):
        return self.options[name]


@pytest.mark.parametrize("webdriver, remote, shared", [
    ("Chrome", False, True), ("Chrome", True, False), ("Firefox", False, False)])
def test_only_a_local_chrome_is_shared_between_tests(webdriver, remote, shared):
    """The shared browser is cleaned through Chrome's DevTools protocol: Firefox or a remote
    browser keep dash's own fixtures (a new browser per test)."""
    assert reuses_browser(FakeConfig(webdriver=webdriver, remote=remote)) is shared


def test_auto_workers_are_the_cores_plus_one_per_serial_group(monkeypatch):
    """``-n auto`` gives each serial group (browser, roles) a worker beside one per core;
    ``PYTEST_XDIST_AUTO_NUM_WORKERS`` is left to xdist's own hook."""
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    monkeypatch.setattr(conftest.os, "sched_getaffinity", lambda pid: {0, 1})
    assert conftest.pytest_xdist_auto_num_workers(None) == 4
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "3")
    assert conftest.pytest_xdist_auto_num_workers(None) is None
