"""Webhooks end to end: a real runtime on the real clock notifying a receiver on 127.0.0.1."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from streamdash.config import Settings
from streamdash.runtime import Runtime
from streamdash.sources.simulator import FAULTS, SimulatedSource
from tests.helpers import wait_until

CLEAN = {fault: 0.0 for fault in FAULTS}


def iso(text: str) -> float:
    """Epoch seconds of a ``…Z`` ISO-8601 time with milliseconds (asserting that form)."""
    assert text.endswith("Z") and len(text) == len("2026-01-02T03:04:05.678Z"), text
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def runtime(url: str, rules: list[dict], labels: dict | None = None, **webhook) -> Runtime:
    """A fast-polling simulator runtime whose alerts go to ``url``."""
    settings = Settings({
        "source.interval": 0.1,
        "alerts": {"interval": 0.05, "window": 0.5, "baseline": 0, "default_rules": False,
                   "rules": rules, "labels": labels or {},
                   "webhook": {"urls": [url], "timeout": 0.5, "retries": 1, "backoff": 0.05,
                               "backoff_max": 0.1, **webhook}}})
    source = SimulatedSource(seed=3, batch_size=50, spread=0.1, **CLEAN)
    return Runtime(settings, source)




def test_receiver_gets_firing_then_resolved_payloads(receiver):
    """A null spike sends a firing payload, its end a resolved one, in Alertmanager's shape."""
    rt = runtime(receiver.url, [{"name": "nulls", "metric": "null_rate", "op": ">",
                                 "threshold": 0.05, "for": 0.2, "severity": "critical",
                                 "labels": {"team": "data"},
                                 "summary": "Null rate {value:.0%} over {threshold:.0%}"}],
                 receiver="ops", labels={"env": "test"})
    with rt:
        wait_until(lambda: rt.monitor.evaluations >= 3)
        spike = time.time()
        rt.source.set_rates(null_rate=0.6)
        assert receiver.wait_for(lambda r: len(r.bodies) >= 1)
        fired = time.time()
        rt.source.set_rates(null_rate=0.0)
        assert receiver.wait_for(lambda r: len(r.bodies) >= 2)
        resolved_seen = time.time()
    firing, resolved = receiver.bodies[:2]
    for body, status in ((firing, "firing"), (resolved, "resolved")):
        assert body["version"] == "4" and body["status"] == status and body["receiver"] == "ops"
        assert body["groupLabels"] == {"alertname": "nulls"}
        assert body["commonLabels"] == {"alertname": "nulls", "severity": "critical",
                                        "source": "simulator", "team": "data", "env": "test"}
        (alert,) = body["alerts"]
        assert alert["status"] == status and alert["labels"] == body["commonLabels"]
        assert alert["annotations"]["summary"].startswith("Null rate ")
        assert len(alert["fingerprint"]) == 16
    starts = iso(firing["alerts"][0]["startsAt"])
    # It fired after the spike began and after at least `for` (0.2 s) of pending.
    assert spike + 0.2 - 0.001 <= starts <= fired
    assert firing["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert resolved["alerts"][0]["startsAt"] == firing["alerts"][0]["startsAt"]
    assert starts < iso(resolved["alerts"][0]["endsAt"]) <= resolved_seen
    assert rt.metrics.counter("alert_notifications_sent") == 2
    assert rt.health()["components"]["alerts"]["notifier"]["webhooks"][0]["sent"] == 2


@pytest.mark.parametrize("mode", ["fail", "hang"])
def test_failing_or_hanging_receiver_does_not_hold_the_pipeline(receiver, mode):
    """While the receiver errors or hangs, every batch is still processed on schedule and the
    failures are counted; stopping is not held up either."""
    receiver.mode = mode
    # Always true, re-notified every 0.1 s: the notifier is kept busy failing all along.
    rt = runtime(receiver.url, [{"name": "always", "metric": "records", "op": ">=",
                                 "threshold": 0}], repeat_interval=0.1)
    with rt:
        assert receiver.wait_for(lambda r: r.attempts >= 1)
        before = rt.metrics.counter("batches_processed")
        # The notifier is now stuck in (or retrying) a POST; the pipeline must not notice.
        wait_until(lambda: rt.metrics.counter("batches_processed") >= before + 10)
        wait_until(lambda: rt.metrics.counter("alert_notification_errors") >= 2)
        assert rt.metrics.counter("producer_blocked_seconds") == 0
        assert rt.queue.qsize() <= 5  # no backlog builds up behind the notifier
        stop_began = time.monotonic()
    stop_took = time.monotonic() - stop_began
    counts = rt.counts()
    assert counts["in"] == counts["accepted"] and counts["dropped"] == 0
    assert rt.metrics.counter("alert_notifications_sent") == 0
    assert rt.metrics.counter("alert_notifications_failed") >= 1
    stats = rt.monitor.describe()["notifier"]["webhooks"][0]
    assert stats["errors"] >= 2 and stats["sent"] == 0
    assert stats["last_error"] == ("HTTP 500" if mode == "fail" else "timeout after 0.5 s")
    assert "secret-token-123" not in str(rt.health())
    assert stop_took < 10  # generous: a hung receiver must not keep shutdown waiting forever
