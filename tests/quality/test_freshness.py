"""Freshness judged against the effective interval, over a real HTTP source on loopback.

A source whose minimum interval (a preset's) or ``Cache-Control: max-age`` is longer than the
configured interval is polled at that pace, and neither ``source_down``, the stale banner nor
``/health`` treats the time between two polls as an outage. A ``304 Not Modified`` is a
successful fetch: the source is up, the banner says "no new data", never "stale".
"""

from __future__ import annotations

import threading
import time

import pytest

from streamdash.app import create_app
from streamdash.config import Settings
from tests.helpers import wait_until, within
from tests.httpserver import Reply, ScriptedServer, json_reply

CONFIGURED = 0.2      # source.interval: what the user asked for (down after 3 = 0.6 s)
ALERT_TICK = 0.05     # alerts.interval: the monitor looks often, so a false alert would show
SUMMARY_CACHE = 1.0   # the dashboard's summary (banner) is recomputed at most once a second


class Feed:
    """A JSON feed on a scripted local server that records when each poll arrived."""

    def __init__(self, server: ScriptedServer, headers: dict[str, str] | None = None,
                 not_modified_after: int | None = None):
        self.server, self.headers, self.limit = server, headers or {}, not_modified_after
        self.started = time.monotonic()  # before the app: no poll can be due earlier
        self.times: list[float] = []
        self._lock = threading.Lock()
        server.route("/feed", self.reply)

    def reply(self, req) -> Reply:
        with self._lock:
            self.times.append(time.monotonic())
            n = len(self.times)
        if self.limit is not None and n > self.limit \
                and req.headers.get("If-None-Match") == '"v1"':
            return Reply(304, headers=self.headers)
        return json_reply({"items": [{"id": n, "value": float(n)}]},
                          headers={"ETag": '"v1"', **self.headers})

    def polls_ahead_of(self, interval: float) -> int:
        """How many polls came earlier than a schedule of one per ``interval`` allows (poll k
        is due ``k × interval`` after the first at the earliest; late ones may catch up)."""
        with self._lock:
            return sum(1 for k, t in enumerate(self.times) if t - self.started < k * interval)


@pytest.fixture
def app_for():
    """Start an app polling a local feed; stop its runtime afterwards."""
    apps = []

    def make(url: str, **source):
        settings = Settings({"source": {"type": "http", "url": url, "records_path": "items",
                                        "fields": {"id": "id:int", "value": "value:float"},
                                        "interval": CONFIGURED, **source},
                             "alerts": {"interval": ALERT_TICK, "window": 2}})
        apps.append(create_app(settings))
        return apps[-1]
    yield make
    for app in apps:
        app.runtime.stop()


def watch(app, seconds: float) -> list[tuple[int, dict, str | None]]:
    """Sample /health and the dashboard banner every alert tick for ``seconds``."""
    client, samples = app.server.test_client(), []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = client.get("/health")
        samples.append((r.status_code, r.get_json(), app.live.summary("value", None)["stale"]))
        time.sleep(ALERT_TICK)
    return samples


def fired(app, name: str) -> list[dict]:
    return [t for t in app.runtime.monitor.history(None) if t["name"] == name]


def assert_up_between_polls(app, feed: Feed, effective: float, reason: str) -> None:
    rt = app.runtime
    wait_until(lambda: len(feed.times) >= 2, within(effective), "the first two polls")
    samples = watch(app, 3 * effective)  # three more polls, sampled in between
    assert {code for code, _, _ in samples} == {200}
    assert {body["status"] for _, body, _ in samples} == {"ok"}, samples[-1][1]["reasons"]
    assert {banner for _, _, banner in samples} == {None}
    assert {body["interval_s"] for _, body, _ in samples} == {effective}
    assert samples[-1][1]["components"]["source"]["interval"]["reason"] == reason
    assert fired(app, "source_down") == [] and fired(app, "pipeline_backlogged") == []
    assert rt.monitor.rates()["fetch_age_seconds"] is not None
    # The producer honoured it: no poll ahead of the effective interval's schedule.
    assert feed.polls_ahead_of(effective) == 0, feed.times
    assert "polling every" in app.live.summary("value", None)["interval"]


def test_source_minimum_interval_is_no_outage_between_polls(app_for):
    """A source with min_interval 0.5 s (configured 0.2 s) is polled every 0.5 s with no
    source_down, no stale banner and /health ok in between (it used to fire after 3 configured
    intervals)."""
    with ScriptedServer() as server:
        feed = Feed(server)
        app = app_for(server.url("/feed"), min_interval=0.5)
        assert_up_between_polls(app, feed, 0.5, "min_interval")


def test_cache_control_max_age_sets_the_pace(app_for):
    """A feed saying Cache-Control: max-age=1 is polled every second, with no false alert."""
    with ScriptedServer() as server:
        feed = Feed(server, headers={"Cache-Control": "public, max-age=1"})
        app = app_for(server.url("/feed"))
        assert_up_between_polls(app, feed, 1.0, "server")


def test_not_modified_is_up_with_no_new_data(app_for):
    """Polls answered 304 keep the source up: /health ok and ready, no source_down, and after
    3 intervals the banner says "No new data since" (info), never stale."""
    with ScriptedServer() as server:
        Feed(server, not_modified_after=1)
        app = app_for(server.url("/feed"))
        rt, client = app.runtime, app.server.test_client()
        wait_until(lambda: rt.counts()["accepted"] == 1, within(CONFIGURED), "the first record")
        wait_until(lambda: (app.live.summary("value", None)["stale"] or "").startswith("No new"),
                   within(3 * CONFIGURED, SUMMARY_CACHE), "the no-new-data banner")
        summary = app.live.summary("value", None)
        assert summary["stale_color"] == "info" and "stale" not in summary["stale"].lower()
        assert "the source answers" in summary["stale"]
        health = client.get("/health")
        assert health.status_code == 200 and health.get_json()["status"] == "ok"
        assert client.get("/health/ready").status_code == 200
        assert rt.source.stats["not_modified"] >= 3 and fired(app, "source_down") == []
        assert all("If-None-Match" in r.headers for r in server.hits("/feed")[1:])


def test_a_source_that_stops_answering_is_stale_and_down(app_for):
    """When fetches fail for 3 intervals the banner says stale and /health is 503 down."""
    with ScriptedServer() as server:
        server.route("/feed", json_reply({"items": [{"id": 1, "value": 1.0}]}),
                     then=Reply(404, b'{"error": "gone"}'))
        app = app_for(server.url("/feed"))
        client = app.server.test_client()
        # Down after 3 failed fetches (3 intervals), or source_down at the next evaluation.
        wait_until(lambda: client.get("/health").status_code == 503,
                   within(3 * CONFIGURED, ALERT_TICK), "/health down")
        body = client.get("/health").get_json()
        assert body["status"] == "down" and any("source" in r for r in body["reasons"])
        wait_until(lambda: (app.live.summary("value", None)["stale"] or "").startswith(
            "Data is stale"), within(3 * CONFIGURED, SUMMARY_CACHE), "the stale banner")
        assert client.get("/health/ready").status_code == 503
