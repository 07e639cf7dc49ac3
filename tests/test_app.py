"""Tests for streamdash.app.create_app, the first dashboard page's callbacks and /health."""

import time

from streamdash.app import assets_folder, create_app
from streamdash.config import Settings
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


def test_unknown_api_path_is_a_json_404_not_the_page():
    """/api/<unknown> answers 404 JSON naming the path; known API paths and other pages still
    answer as before (the page for any non-API path, the API for known ones)."""
    app = create_app(Settings(), ListSource([]), start=False)
    client = app.server.test_client()
    for path in ("/api/nope", "/api/metrics/extra", "/api/"):
        resp = client.get(path)
        assert resp.status_code == 404 and resp.is_json, path
        assert resp.get_json()["error"].startswith("unknown API path /api/")
    assert client.get("/api/metrics").status_code == 200
    page = client.get("/some/page")
    assert page.status_code == 200 and b"<!DOCTYPE html>" in page.data
