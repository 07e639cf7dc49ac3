"""Webhook notifications in the shape Prometheus Alertmanager sends to webhook receivers.

:class:`WebhookNotifier` owns a bounded queue and one thread. The monitor only *enqueues*
(never blocks, never does I/O), so a receiver that fails or hangs cannot slow or stop the
pipeline: each POST has a timeout, failed attempts are retried with exponential backoff and
jitter, and every outcome is counted (``alert_notifications_sent``, ``…_failed`` (gave up),
``alert_notification_errors`` (failed attempts), ``…_dropped`` (queue full or shutdown)).

A still-firing alert is re-sent once per ``repeat_interval`` (default 4 h, like Alertmanager).
Webhook URLs often carry tokens (Slack, PagerDuty bridges): logs and ``describe()`` only ever
show them as :func:`streamdash.redact.mask_webhook_url` does.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import requests

from ..logs import log_event
from ..metrics import Metrics
from ..redact import mask_webhook_url
from ..sources.retry import RetryPolicy, call_with_retries
from ..threads import Background, ThreadRunner

log = logging.getLogger("streamdash.quality.notify")

#: Alertmanager's "no end time yet" value for firing alerts.
ZERO_TIME = "0001-01-01T00:00:00Z"
USER_AGENT = "streamdash-alerts"


#: Webhook URLs are shown as :func:`streamdash.redact.mask_webhook_url` shows them (the name
#: stays importable from here for the alert settings).
mask_url = mask_webhook_url


def alertmanager_payload(views: list[dict[str, Any]], status: str, receiver: str,
                         external_url: str = "") -> dict[str, Any]:
    """The webhook body for ``views`` (alert dicts from the monitor) with group ``status``."""
    common_labels = _common(v["labels"] for v in views)
    group_labels = {k: common_labels[k] for k in ("alertname",) if k in common_labels}
    group_key = "{}:{" + ",".join(f'{k}="{v}"' for k, v in sorted(group_labels.items())) + "}"
    return {
        "version": "4", "groupKey": group_key, "truncatedAlerts": 0, "status": status,
        "receiver": receiver, "groupLabels": group_labels, "commonLabels": common_labels,
        "commonAnnotations": _common(v["annotations"] for v in views),
        "externalURL": external_url,
        "alerts": [{
            "status": "resolved" if v["state"] == "resolved" else "firing",
            "labels": dict(v["labels"]), "annotations": dict(v["annotations"]),
            "startsAt": v["starts_at"] or ZERO_TIME,
            "endsAt": v["ends_at"] if v["state"] == "resolved" and v["ends_at"] else ZERO_TIME,
            "generatorURL": external_url, "fingerprint": v["fingerprint"],
        } for v in views],
    }


def _common(maps: Iterable[dict[str, str]]) -> dict[str, str]:
    maps = list(maps)
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


class _Failed(Exception):
    """One failed POST: the reason (never the URL, which may hold a token) and whether another
    attempt may help."""

    def __init__(self, reason: str, retryable: bool):
        super().__init__(reason)
        self.retryable = retryable


class _Target:
    """Delivery statistics of one URL (shown masked)."""

    def __init__(self, url: str):
        self.url = url
        self.masked = mask_webhook_url(url)
        self.sent = 0
        self.failed = 0
        self.errors = 0
        self.last_status: int | None = None
        self.last_error: str | None = None


class WebhookNotifier(Background):
    """Sends Alertmanager-shaped notifications to ``urls`` from its own thread.

    ``timeout`` bounds each POST (connect and read), ``retries`` is the number of extra
    attempts after a failure that may pass (connection error, timeout, HTTP 429 or 5xx), with
    full-jitter delays up to ``backoff · 2^n`` (capped at ``backoff_max``; see
    :func:`~streamdash.sources.retry.call_with_retries`). Other 4xx answers are not
    retried. ``start()``/``stop()`` are idempotent.
    """

    def __init__(self, urls: list[str], *, metrics: Metrics | None = None,
                 receiver: str = "streamdash", timeout: float = 5.0, retries: int = 3,
                 backoff: float = 1.0, backoff_max: float = 30.0,
                 repeat_interval: float = 4 * 3600.0, queue_size: int = 1000,
                 external_url: str = "", clock: Callable[[], float] = time.time,
                 session: requests.Session | None = None, rng: random.Random | None = None):
        self.targets = [_Target(u) for u in urls]
        self.metrics = metrics or Metrics()
        self.receiver = receiver
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.repeat_interval = repeat_interval
        self.external_url = external_url
        self.clock = clock
        self.session = session or requests.Session()
        self.rng = rng or random.Random()
        # The one retry helper (sources.retry): full-jitter backoff, a stop ends a wait at once.
        self.retry_policy = RetryPolicy(max_tries=retries + 1, max_time=0, base=backoff,
                                        cap=backoff_max, rng=self.rng)
        self.queue: queue.Queue = queue.Queue(queue_size)
        self._runner = ThreadRunner("notifier", self._run)
        self.stopping = self._runner.stopping
        self._lock = threading.Lock()
        self._last_sent: dict[str, float] = {}

    # -- what the monitor calls (never blocks) -----------------------------------------------
    def notify(self, view: dict[str, Any], now: float | None = None) -> None:
        """Queue a notification for one alert transition (firing or resolved)."""
        now = self.clock() if now is None else now
        with self._lock:
            if view["state"] == "firing":
                self._last_sent[view["fingerprint"]] = now
            elif view["state"] == "resolved":
                self._last_sent.pop(view["fingerprint"], None)
            else:
                return
        payload = alertmanager_payload([view], "resolved" if view["state"] == "resolved"
                                       else "firing", self.receiver, self.external_url)
        for target in self.targets:
            self._enqueue(target, payload)

    def remind(self, firing: Iterable[dict[str, Any]], now: float) -> int:
        """Re-queue still-firing alerts last sent ``repeat_interval`` ago; returns how many."""
        due = []
        with self._lock:
            for view in firing:
                last = self._last_sent.get(view["fingerprint"])
                if last is None or now - last >= self.repeat_interval:
                    due.append(view)
        for view in due:
            self.notify(view, now)
        return len(due)

    def _enqueue(self, target: _Target, payload: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait((target, payload))
        except queue.Full:
            self.metrics.inc("alert_notifications_dropped")
            log_event(log, logging.WARNING, "alert notification dropped: queue full",
                      url=target.masked, capacity=self.queue.maxsize)

    # -- thread: start/stop/join/alive come from Background (a Service). stop() lets the
    # current attempt finish, so a hanging receiver holds it at most ``self.timeout``. ------
    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                target, payload = self.queue.get(timeout=0.1)
            except queue.Empty:
                continue
            try:
                self.deliver(target, payload)
            except Exception:  # a bug must not end notifications
                target.failed += 1
                self.metrics.inc("alert_notifications_failed")
                log.exception("alert notification crashed",
                              extra={"ctx": {"url": target.masked}})
        left = 0
        while True:
            try:
                self.queue.get_nowait()
                left += 1
            except queue.Empty:
                break
        if left:
            self.metrics.inc("alert_notifications_dropped", left)
            log_event(log, logging.WARNING, "alert notifications dropped at shutdown",
                      count=left)

    def deliver(self, target: _Target, payload: dict[str, Any]) -> bool:
        """POST ``payload`` to one target with retries; True when the receiver accepted it."""
        tries = 0

        def attempt() -> None:
            nonlocal tries
            tries += 1
            error, retry = self._post(target, payload)
            if error is not None:
                target.errors += 1
                target.last_error = error
                self.metrics.inc("alert_notification_errors")
                raise _Failed(error, retry)

        def on_retry(exc: BaseException, tries: int, delay: float) -> None:
            log_event(log, logging.WARNING, "alert notification failed; retrying",
                      url=target.masked, reason=str(exc), attempt=tries,
                      retry_in=round(delay, 3))

        def on_giveup(exc: BaseException, tries: int, why: str) -> None:
            target.failed += 1
            self.metrics.inc("alert_notifications_failed")
            if why != "stopped":  # shutting down: the dropped count says it
                log_event(log, logging.ERROR, "alert notification failed", url=target.masked,
                          reason=str(exc), attempts=tries, status=payload["status"])

        try:
            call_with_retries(attempt, self.retry_policy,
                              self.stopping, exceptions=_Failed,
                              retryable=lambda exc: getattr(exc, "retryable", False),
                              on_retry=on_retry, on_giveup=on_giveup)
        except _Failed:
            return False
        target.sent += 1
        self.metrics.inc("alert_notifications_sent")
        log_event(log, logging.INFO, "alert notification sent", url=target.masked,
                  status=payload["status"], alerts=len(payload["alerts"]), attempts=tries)
        return True

    def _post(self, target: _Target, payload: dict[str, Any]) -> tuple[str | None, bool]:
        """One attempt: ``(None, _)`` on success, else ``(reason, retryable)``."""
        try:
            resp = self.session.post(target.url, json=payload, timeout=(self.timeout, self.timeout),
                                     headers={"User-Agent": USER_AGENT})
        except requests.Timeout:
            return f"timeout after {self.timeout:g} s", True
        except requests.RequestException as exc:
            # Exception texts of requests repeat the URL (with its token): name the type only.
            return f"{type(exc).__name__}", True
        target.last_status = resp.status_code
        resp.close()
        if 200 <= resp.status_code < 300:
            return None, False
        retry = resp.status_code == 429 or resp.status_code >= 500
        return f"HTTP {resp.status_code}", retry

    def describe(self) -> dict[str, Any]:
        """Delivery statistics per (masked) URL, safe to show in health output."""
        return {"receiver": self.receiver, "queued": self.queue.qsize(),
                "repeat_interval": self.repeat_interval,
                "webhooks": [{"url": t.masked, "sent": t.sent, "failed": t.failed,
                              "errors": t.errors, "last_status": t.last_status,
                              "last_error": t.last_error} for t in self.targets]}
