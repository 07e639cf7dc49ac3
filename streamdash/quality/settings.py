"""The ``alerts`` settings section: validation and building the monitor and notifier from it.

::

    alerts:
      enabled: true            # false: no monitor thread, no alerts
      interval: 1s             # evaluation period (wall time)
      window: 60s              # sliding window of the quality metrics
      baseline: 10m            # trailing period throughput_drop compares against
      default_rules: true      # false: only the rules below
      history: 1000            # transitions kept in memory
      labels: {}               # added to every alert (besides source: <source name>)
      rules: [...]             # see quality/rule_params.py; a default's name overrides it
      webhook:                 # ("webhook" in the key makes the settings log mask the URLs)
        urls: []               # webhook URLs (list, or comma-separated text for env vars)
        receiver: streamdash
        timeout: 5s
        retries: 3
        backoff: 1s
        backoff_max: 30s
        repeat_interval: 4h
        queue: 1000
        external_url: ""       # dashboard address shown to receivers (generatorURL)

Every wrong key or value raises ``ConfigError`` naming the dotted key (rules by name): the
section is :class:`AlertsParams`, read with :func:`~streamdash.params.parse`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field

from ..config import Settings
from ..events import EventBus
from ..metrics import Metrics
from ..params import Bool, Int, NonNegativeDuration, Params, PositiveDuration, comma_list, parse
from .monitor import QualityMonitor
from .notify import WebhookNotifier, mask_url
from .rule_params import Labels, parse_rules


def _webhook_url(url: Any) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        # The path of a webhook URL is often its token: show it masked.
        shown = mask_url(url) if isinstance(url, str) else repr(url)
        raise ValueError(f"expected an http(s) URL, got {shown}")
    return url


def _name(value: str) -> str:
    if not value:
        raise ValueError(f"expected a name, got {value!r}")
    return value


class WebhookParams(Params):
    """``alerts.webhook``: where and how alerts are posted (no URL: no notifier)."""

    urls: Annotated[list[Annotated[str, BeforeValidator(_webhook_url)]],
                    BeforeValidator(lambda v: comma_list(v) if v is not None else [])] = []
    receiver: Annotated[str, AfterValidator(_name)] = "streamdash"
    timeout: PositiveDuration = 5.0
    retries: Int = Field(3, ge=0, le=100)
    backoff: NonNegativeDuration = 1.0
    backoff_max: NonNegativeDuration = 30.0
    repeat_interval: PositiveDuration = 4 * 3600.0
    queue: Int = Field(1000, ge=1, le=1_000_000)
    external_url: str = ""  # dashboard address shown to receivers (generatorURL)


class AlertsParams(Params):
    """The ``alerts`` section (rules are checked by :func:`~.rule_params.parse_rules`)."""

    enabled: Bool = True
    interval: PositiveDuration = 1.0
    window: PositiveDuration = 60.0
    baseline: NonNegativeDuration = 600.0
    default_rules: Bool = True
    history: Int = Field(1000, ge=1, le=1_000_000)
    labels: Labels = {}
    rules: Any = None
    webhook: Annotated[WebhookParams, BeforeValidator(lambda v: {} if v is None else v)] = \
        WebhookParams()


def build_notifier(webhook: WebhookParams | Mapping[str, Any] | None, metrics: Metrics,
                   clock: Callable[[], float] = time.time) -> WebhookNotifier | None:
    """The webhook notifier of ``alerts.webhook``, or ``None`` when no URL is configured."""
    if not isinstance(webhook, WebhookParams):
        webhook = parse(WebhookParams, webhook, "alerts.webhook")
    if not webhook.urls:
        return None
    return WebhookNotifier(
        webhook.urls, metrics=metrics, receiver=webhook.receiver, clock=clock,
        external_url=webhook.external_url, timeout=webhook.timeout, retries=webhook.retries,
        backoff=webhook.backoff, backoff_max=webhook.backoff_max,
        repeat_interval=webhook.repeat_interval, queue_size=webhook.queue)


def build_monitor(settings: Settings, *, metrics: Metrics, source_health: Any = None,
                  events: EventBus | None = None, time_field: str = "", source_name: str = "",
                  clock: Callable[[], float] = time.time,
                  fetch_interval: Callable[[], float] | None = None,
                  snapshot: bool = False) -> QualityMonitor:
    """The monitor described by the ``alerts`` section (alerts labelled ``source``).

    ``snapshot`` says the source repeats its records on every poll (a snapshot feed such as
    USGS ``all_hour``): its repeats are counted as duplicates by design, so the default
    ``duplicate_rate_high`` rule starts disabled (see :data:`~.rules.OFF_FOR_SNAPSHOTS`).

    ``fetch_interval`` returns the source's effective interval (the runtime's ``Cadence``):
    ``source_down`` and ``pipeline_backlogged`` follow it rather than ``source.interval``.

    With ``enabled: false`` it has no rules and never starts a thread, so readers of
    ``runtime.monitor`` need no special case.
    """
    p = parse(AlertsParams, settings.section("alerts"), "alerts")
    if not p.enabled:
        return QualityMonitor([], metrics=metrics, source_health=source_health, events=events,
                              clock=clock, enabled=False)
    rules = parse_rules(p.rules, fetch_interval=settings.interval,
                        include_defaults=p.default_rules, snapshot=snapshot)
    # Like Prometheus's external labels: say which stream an alert is about (several
    # streamdash instances often post to one channel). A rule's own labels win.
    common = {"source": source_name} if source_name else {}
    common.update(p.labels)
    rules = [replace(r, labels={**common, **r.labels}) for r in rules]
    return QualityMonitor(
        rules, metrics=metrics, source_health=source_health, events=events, clock=clock,
        fetch_interval=fetch_interval, notifier=build_notifier(p.webhook, metrics, clock),
        interval=p.interval, window=p.window, baseline=p.baseline, time_field=time_field,
        history_size=p.history)
