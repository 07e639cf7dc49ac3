"""Alertmanager-shaped webhooks sent from their own thread to a real local receiver."""

from __future__ import annotations

import logging
import random
import threading

import pytest

from streamdash.metrics import Metrics
from streamdash.quality.notify import WebhookNotifier, alertmanager_payload, mask_url
from streamdash.quality.rules import AlertState, Rule, alert_view
from tests.helpers import within

T0 = 1_700_000_000.0


def view(state: str, name: str = "nulls", **kw) -> dict:
    """An alert view in ``state`` (firing at T0, resolved at T0+30)."""
    rule = Rule(name, "null_rate", ">", 0.05, labels={"team": "data"},
                summary="Null rate {value:.0%}")
    st = AlertState(state=state, value=0.2, active_at=T0, starts_at=T0,
                    ends_at=T0 + 30 if state == "resolved" else None, last_evaluated=T0 + 30)
    return {**alert_view(rule, st), **kw}


def notifier(url: str, **kw) -> WebhookNotifier:
    """A notifier with quick retries, deterministic jitter and its own metrics."""
    opts = {"timeout": 2.0, "retries": 2, "backoff": 0.01, "backoff_max": 0.05,
            "rng": random.Random(1), "metrics": Metrics()}
    opts.update(kw)
    return WebhookNotifier([url], **opts)


def test_payload_has_the_alertmanager_webhook_shape():
    """The body carries version 4, status, receiver, group/common labels and the alerts."""
    body = alertmanager_payload([view("firing")], "firing", "streamdash")
    assert body["version"] == "4" and body["status"] == "firing"
    assert body["receiver"] == "streamdash"
    assert body["groupLabels"] == {"alertname": "nulls"}
    assert body["commonLabels"] == {"alertname": "nulls", "severity": "warning", "team": "data"}
    assert body["commonAnnotations"] == {"summary": "Null rate 20%"}
    assert body["groupKey"] == '{}:{alertname="nulls"}' and body["truncatedAlerts"] == 0
    (alert,) = body["alerts"]
    assert alert["status"] == "firing" and alert["startsAt"] == "2023-11-14T22:13:20.000Z"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z" and len(alert["fingerprint"]) == 16
    resolved = alertmanager_payload([view("resolved")], "resolved", "r")["alerts"][0]
    assert resolved["status"] == "resolved" and resolved["endsAt"] == "2023-11-14T22:13:50.000Z"


def test_common_labels_keep_only_shared_values():
    """commonLabels of several alerts hold only the labels they all share."""
    body = alertmanager_payload([view("firing"), view("firing", name="dups")], "firing", "x")
    assert body["commonLabels"] == {"severity": "warning", "team": "data"}
    assert body["groupLabels"] == {} and alertmanager_payload([], "firing", "x")["alerts"] == []


@pytest.mark.parametrize("url,masked", [
    ("https://hooks.slack.com/services/T0/B0/XyZ", "https://hooks.slack.com/***"),
    ("http://user:pw@example.test:8080/a?token=abc&x=1",
     "http://***@example.test:8080/***?token=***&x=***"),
    ("http://127.0.0.1:9/", "http://127.0.0.1:9"),
    ("http://[::1", "***"),
])
def test_mask_url_hides_tokens(url, masked):
    """Credentials, query values and deeper path parts never show in masked URLs."""
    assert mask_url(url) == masked


def test_firing_and_resolved_reach_a_real_receiver(receiver):
    """A local receiver gets one firing and one resolved payload with every field."""
    n = notifier(receiver.url)
    n.start()
    try:
        n.notify(view("firing"), T0)
        n.notify(view("resolved"), T0 + 30)
        assert receiver.wait_for(lambda r: len(r.bodies) == 2)
    finally:
        n.stop(5)
    firing, resolved = receiver.bodies
    assert firing["status"] == "firing" and resolved["status"] == "resolved"
    assert resolved["alerts"][0]["endsAt"] == "2023-11-14T22:13:50.000Z"
    assert n.metrics.counter("alert_notifications_sent") == 2
    stats = n.describe()["webhooks"][0]
    assert stats["sent"] == 2 and stats["last_status"] == 200
    assert "secret-token-123" not in str(n.describe())


def test_failing_receiver_is_retried_then_counted(receiver, caplog):
    """A 500 answer is retried with backoff, then the failure is counted and logged masked."""
    receiver.mode = "fail"
    n = notifier(receiver.url, retries=2)
    with caplog.at_level(logging.INFO, logger="streamdash.quality.notify"):
        assert n.deliver(n.targets[0], alertmanager_payload([view("firing")], "firing", "x")) \
            is False
    assert receiver.attempts == 3
    assert n.metrics.counter("alert_notification_errors") == 3
    assert n.metrics.counter("alert_notifications_failed") == 1
    assert n.describe()["webhooks"][0]["last_error"] == "HTTP 500"
    assert "alert notification failed" in caplog.text
    assert "secret-token-123" not in caplog.text


def test_stop_ends_a_retry_wait_at_once(receiver):
    """A stop during an hour-long retry wait ends the delivery now, counted as failed."""
    receiver.mode = "fail"
    n = notifier(receiver.url, retries=3, backoff=3600.0, backoff_max=3600.0,
                 rng=random.Random(0))
    n.retry_policy.rng = FloorRng()  # the full hour, not a jittered fraction of it
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(
        n.deliver(n.targets[0], alertmanager_payload([view("firing")], "firing", "x"))))
    worker.start()
    assert receiver.wait_for(lambda r: r.attempts >= 1)
    n.stopping.set()
    worker.join(within())
    assert outcome == [False] and receiver.attempts == 1
    assert n.metrics.counter("alert_notifications_failed") == 1


class FloorRng(random.Random):
    """Draws the top of every jitter range."""

    def uniform(self, a, b):
        return b


def test_client_errors_are_not_retried(receiver):
    """A 4xx answer other than 429 is final: one attempt, counted as failed."""
    n = notifier(receiver.url.replace("/hook/", "/missing/"))

    class Answer:
        status_code = 404

        def close(self) -> None:
            pass

    class Session:
        calls = 0

        def post(self, *a, **kw):
            Session.calls += 1
            return Answer()

    n.session = Session()
    assert n.deliver(n.targets[0], {"status": "firing", "alerts": []}) is False
    assert Session.calls == 1 and n.metrics.counter("alert_notifications_failed") == 1


def test_unreachable_receiver_is_counted_without_leaking_the_url(caplog):
    """Connection errors are retried, counted, and logged with the masked URL only."""
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    n = notifier(f"http://127.0.0.1:{port}/hook/secret-token-123", retries=1)
    with caplog.at_level(logging.WARNING, logger="streamdash.quality.notify"):
        assert n.deliver(n.targets[0], {"status": "firing", "alerts": []}) is False
    assert n.metrics.counter("alert_notification_errors") == 2
    assert "ConnectionError" in n.describe()["webhooks"][0]["last_error"]
    assert "secret-token-123" not in caplog.text


def test_hanging_receiver_times_out_and_is_counted(receiver):
    """A receiver that never answers costs one timeout per attempt and is counted."""
    receiver.mode = "hang"
    n = notifier(receiver.url, timeout=0.2, retries=0)
    assert n.deliver(n.targets[0], {"status": "firing", "alerts": []}) is False
    assert n.describe()["webhooks"][0]["last_error"] == "timeout after 0.2 s"
    assert n.metrics.counter("alert_notifications_failed") == 1


def test_repeat_interval_limits_re_notification():
    """A still-firing alert is re-queued only once the repeat interval has passed."""
    n = notifier("http://127.0.0.1:9/x", repeat_interval=3600)
    firing = view("firing")
    n.notify(firing, T0)
    assert n.queue.qsize() == 1
    assert n.remind([firing], T0 + 3599) == 0
    assert n.remind([firing], T0 + 3600) == 1 and n.queue.qsize() == 2
    assert n.remind([firing], T0 + 3601) == 0
    n.notify(view("resolved"), T0 + 4000)
    n.notify(view("pending"), T0 + 4000)  # pending is never sent
    assert n.queue.qsize() == 3
    # After the resolve, a firing alert not yet notified is due at once.
    assert n.remind([firing], T0 + 4001) == 1


def test_full_queue_drops_and_counts():
    """When the send queue is full, new notifications are dropped and counted, never blocking."""
    n = notifier("http://127.0.0.1:9/x", queue_size=1)
    n.notify(view("firing"), T0)
    n.notify(view("resolved"), T0)
    assert n.metrics.counter("alert_notifications_dropped") == 1


def test_stop_drops_what_is_still_queued(receiver):
    """Stopping ends the thread promptly and counts notifications it could not send."""
    receiver.mode = "hang"
    n = notifier(receiver.url, timeout=0.3, retries=0)
    for _ in range(3):
        n.notify(view("firing"), T0)
    n.start()
    n.start()  # idempotent
    assert receiver.wait_for(lambda r: r.attempts >= 1)
    assert n.stop(5) and not n.alive
    assert n.metrics.counter("alert_notifications_dropped") == 2
