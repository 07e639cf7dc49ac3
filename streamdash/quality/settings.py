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
      rules: [...]             # see quality/rules.py; same name as a default = override it
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

Every wrong key or value raises ``ConfigError`` naming the dotted key (rules by name).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from ..config import Settings
from ..errors import ConfigError, unknown_key
from ..events import EventBus
from ..metrics import Metrics
from .monitor import QualityMonitor
from .notify import WebhookNotifier, mask_url
from .rules import check_labels, parse_duration, parse_rules

_KEYS = ("enabled", "interval", "window", "baseline", "default_rules", "history", "labels",
         "rules", "webhook")
_NOTIFY_KEYS = ("urls", "receiver", "timeout", "retries", "backoff", "backoff_max",
                "repeat_interval", "queue", "external_url")


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, f"expected true or false, got {value!r}")
    return value


def _count(key: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(key, f"expected a whole number from {lo} to {hi}, got {value!r}")
    return value


def _urls(key: str, value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list):
        raise ConfigError(key, f"expected a list of URLs, got {type(value).__name__}")
    for i, url in enumerate(value):
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            shown = mask_url(url) if isinstance(url, str) else repr(url)
            raise ConfigError(f"{key}[{i}]", f"expected an http(s) URL, got {shown}")
    return value


def _check_keys(section: str, raw: Mapping[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise unknown_key(f"{section}.{unknown[0]}", unknown[0], known,
                          what=f"setting in '{section}'")


def build_notifier(raw: Any, metrics: Metrics, clock: Callable[[], float] = time.time
                   ) -> WebhookNotifier | None:
    """The webhook notifier of ``alerts.webhook``, or ``None`` when no URL is configured."""
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise ConfigError("alerts.webhook", f"expected a mapping, got {raw!r}")
    _check_keys("alerts.webhook", raw, _NOTIFY_KEYS)
    urls = _urls("alerts.webhook.urls", raw.get("urls"))
    if not urls:
        return None
    k = "alerts.webhook."
    receiver = raw.get("receiver", "streamdash")
    if not isinstance(receiver, str) or not receiver:
        raise ConfigError(k + "receiver", f"expected a name, got {receiver!r}")
    external = raw.get("external_url", "")
    if not isinstance(external, str):
        raise ConfigError(k + "external_url", f"expected a URL, got {external!r}")
    return WebhookNotifier(
        urls, metrics=metrics, receiver=receiver, clock=clock, external_url=external,
        timeout=parse_duration(k + "timeout", raw.get("timeout", 5), allow_zero=False),
        retries=_count(k + "retries", raw.get("retries", 3), 0, 100),
        backoff=parse_duration(k + "backoff", raw.get("backoff", 1)),
        backoff_max=parse_duration(k + "backoff_max", raw.get("backoff_max", 30)),
        repeat_interval=parse_duration(k + "repeat_interval", raw.get("repeat_interval", "4h"),
                                       allow_zero=False),
        queue_size=_count(k + "queue", raw.get("queue", 1000), 1, 1_000_000))


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
    raw = settings.section("alerts") or {}
    if not isinstance(raw, Mapping):
        raise ConfigError("alerts", f"expected a mapping, got {raw!r}")
    _check_keys("alerts", raw, _KEYS)
    if not _bool("alerts.enabled", raw.get("enabled", True)):
        return QualityMonitor([], metrics=metrics, source_health=source_health, events=events,
                              clock=clock, enabled=False)
    rules = parse_rules(raw.get("rules"), fetch_interval=settings.interval,
                        include_defaults=_bool("alerts.default_rules",
                                               raw.get("default_rules", True)),
                        snapshot=snapshot)
    # Like Prometheus's external labels: say which stream an alert is about (several
    # streamdash instances often post to one channel). A rule's own labels win.
    common = {"source": source_name} if source_name else {}
    common.update(check_labels("alerts.labels", raw.get("labels")))
    rules = [replace(r, labels={**common, **r.labels}) for r in rules]
    return QualityMonitor(
        rules, metrics=metrics, source_health=source_health, events=events, clock=clock,
        fetch_interval=fetch_interval, notifier=build_notifier(raw.get("webhook"), metrics, clock),
        interval=parse_duration("alerts.interval", raw.get("interval", 1), allow_zero=False),
        window=parse_duration("alerts.window", raw.get("window", 60), allow_zero=False),
        baseline=parse_duration("alerts.baseline", raw.get("baseline", "10m")),
        time_field=time_field,
        history_size=_count("alerts.history", raw.get("history", 1000), 1, 1_000_000))
