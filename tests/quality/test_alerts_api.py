"""The alert HTTP API: current alerts, rules and quality metrics, and the /api/alerts history."""

from __future__ import annotations

import pytest
from flask import Flask

from streamdash.models import utc_iso
from streamdash.server.alerts import register_alert_routes
from streamdash.server.routes import register_routes
from streamdash.testing import FakeClock

from .conftest import T0, simulator


def at(seconds: float) -> str:
    """The ISO-8601 form of ``T0 + seconds``."""
    return utc_iso(T0 + seconds)


@pytest.fixture
def fired(scenarios):
    """A runtime whose null alert fired at T0+2, resolved at T0+3 and fired again at T0+7."""
    clock = FakeClock(T0)
    sc = scenarios(simulator(clock, null_rate=0.5),
                   [{"name": "null_rate_high", "for": 1, "keep_firing_for": 0}], window=1,
                   clock=clock)
    sc.run(2)                               # pending T0+1, firing T0+2
    sc.rt.source.set_rates(null_rate=0.0)
    sc.run(3)                               # resolved at T0+3 (the 1 s window is clean)
    sc.rt.source.set_rates(null_rate=0.5)
    sc.run(3)                               # pending T0+6, firing T0+7
    return sc


def client(runtime, full: bool = False):
    """A Flask test client with the alert routes (or every operational route)."""
    server = Flask("test")
    (register_routes if full else register_alert_routes)(server, runtime)
    return server.test_client()


def test_active_lists_current_alerts(fired):
    """/api/alerts/active lists rules not inactive; ``state`` narrows to one state."""
    api = client(fired.rt)
    body = api.get("/api/alerts/active").get_json()
    assert body["evaluated_at"] == at(8) and body["count"] == 1
    (alert,) = body["items"]
    assert alert["name"] == "null_rate_high" and alert["state"] == "firing"
    assert alert["starts_at"] == at(7) and alert["active_at"] == at(6)
    assert api.get("/api/alerts/active?state=firing").get_json()["count"] == 1
    assert api.get("/api/alerts/active?state=pending").get_json()["items"] == []


def test_rules_and_quality_endpoints(fired):
    """/api/alerts/rules lists the rules; /api/quality the window's metrics and thresholds."""
    api = client(fired.rt)
    rules = api.get("/api/alerts/rules").get_json()
    assert rules["enabled"] is True
    assert {r["name"] for r in rules["rules"]} >= {"null_rate_high", "source_down"}
    quality = api.get("/api/quality").get_json()
    assert quality["window"] == 1.0 and quality["at"] == at(8)
    assert quality["metrics"]["null_rate"] > 0.05
    assert quality["thresholds"]["null_rate"] == [
        {"rule": "null_rate_high", "op": ">", "threshold": 0.05, "severity": "warning"}]


@pytest.mark.parametrize("path,words", [
    ("/api/alerts/active?state=bogus", "state: must be one of pending, firing, resolved"),
    ("/api/alerts/active?color=red", "unknown parameter 'color'"),
    ("/api/alerts/rules?x=1", "unknown parameter 'x'"),
    ("/api/quality?x=1", "unknown parameter 'x'"),
])
def test_bad_parameters_are_400_naming_them(fired, path, words):
    """Bad or unknown parameters are answered with HTTP 400 and a message naming them."""
    resp = client(fired.rt).get(path)
    assert resp.status_code == 400 and words in resp.get_json()["error"]


def test_api_alerts_history_filters_by_state_and_since(fired):
    """/api/alerts returns the transition history, filtered by ``state`` and ``since``."""
    api = client(fired.rt, full=True)
    everything = api.get("/api/alerts").get_json()["items"]
    assert [(i["state"], i["at"]) for i in everything] == [
        ("firing", at(7)), ("pending", at(6)), ("resolved", at(3)), ("firing", at(2)),
        ("pending", at(1))]
    firing = api.get("/api/alerts?state=firing").get_json()["items"]
    assert [i["starts_at"] for i in firing] == [at(7), at(2)]
    resolved = api.get("/api/alerts?state=resolved").get_json()["items"]
    assert [(i["starts_at"], i["ends_at"]) for i in resolved] == [(at(2), at(3))]
    since = api.get(f"/api/alerts?since={at(3)}").get_json()["items"]
    assert [i["state"] for i in since] == ["firing", "pending", "resolved"]
    assert api.get("/api/alerts?state=nope").status_code == 400
