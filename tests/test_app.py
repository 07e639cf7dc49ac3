"""Tests for streamdash.app.create_app, the first dashboard page's callbacks and /health."""

import time

from streamdash.app import assets_folder, create_app
from streamdash.config import Settings
from streamdash.dashboard import figures
from streamdash.dashboard.callbacks import RateMeter
from streamdash.testing import FailingSource, ListSource


def test_app_serves_health_and_page():
    """The Flask server behind the app answers / and /health (200 when ok, 503 when down)."""
    app = create_app(Settings({"source.interval": 0.1}), ListSource([[{"id": 1}]], loop=True))
    try:
        client = app.server.test_client()
        assert client.get("/").status_code == 200
        deadline = time.monotonic() + 5
        while app.runtime.counts()["accepted"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        resp = client.get("/health")
        assert resp.status_code == 200 and resp.get_json()["status"] == "ok"
    finally:
        app.runtime.stop()
    assert app.server.test_client().get("/health").status_code == 503


def test_health_is_503_when_source_down():
    """A source failing three times in a row makes /health answer 503."""
    app = create_app(Settings({"source.interval": 0.1}), FailingSource("down"))
    try:
        deadline = time.monotonic() + 5
        while app.runtime.source_health.snapshot()["consecutive_failures"] < 3:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert app.server.test_client().get("/health").status_code == 503
    finally:
        app.runtime.stop()


def test_apps_are_independent_and_start_is_optional():
    """Two apps in one process have their own runtimes; start=False leaves threads off."""
    a = create_app(Settings(), ListSource([]), start=False)
    b = create_app(Settings(), ListSource([]), start=False)
    assert a.runtime is not b.runtime and not a.runtime.running
    assert a.server is not b.server


def test_assets_folder_is_explicit_and_has_bootstrap():
    """The app is given an explicit assets folder holding the offline Bootstrap CSS."""
    app = create_app(Settings(), ListSource([]), start=False)
    assert app.config.assets_folder == assets_folder()
    client = app.server.test_client()
    resp = client.get("/assets/bootstrap.min.css")
    assert resp.status_code == 200 and b"Bootstrap" in resp.data


def test_kpis_format_counts_values_and_update_time():
    """KPI texts show accepted count, rate, latest and mean of numeric values, and update time."""
    recs = [{"v": 1.0}, {"v": None}, {"v": "x"}, {"v": 3.0}, {"v": True}]
    k = figures.kpis(recs, {"accepted": 1234}, "v", 2.5, 1_700_000_000.0, 1_700_000_003.0)
    assert k["total"] == "1,234" and k["rate"] == "2.5"
    assert k["latest"] == "3.00" and k["mean"] == "2.00"
    assert k["updated"] == "2023-11-14T22:13:20.000Z (3 s ago)"
    empty = figures.kpis([], {}, "v", None, None, 0)
    assert empty["latest"] == "–" and empty["updated"] == "never" and empty["rate"] == "–"


def test_rate_meter():
    """The rate is the counter's change over time between two reads."""
    m = RateMeter()
    assert m.update(10, 100.0) is None
    assert m.update(30, 102.0) == 10.0
    assert m.update(30, 102.0) is None
