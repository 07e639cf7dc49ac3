"""Building the monitor and the webhook notifier from the ``alerts`` settings section."""

from __future__ import annotations

import pytest

from streamdash.config import Settings, load_settings
from streamdash.errors import ConfigError
from streamdash.metrics import Metrics
from streamdash.params import parse
from streamdash.quality.settings import AlertsParams, build_monitor


def monitor(alerts: dict, **extra):
    """The monitor built from an ``alerts`` section (and other settings)."""
    return build_monitor(Settings({"alerts": alerts, **extra}), metrics=Metrics())


def test_defaults():
    """Without settings: enabled, 1 s interval, 60 s window, the default rules, no webhooks."""
    m = monitor({}, **{"source.interval": 2})
    assert m.enabled and m.interval == 1.0 and m.window.window == 60.0
    assert m.window.baseline == 600.0 and m.notifier is None
    names = [r.name for r in m.rule_list]
    assert names == ["null_rate_high", "duplicate_rate_high", "late_rate_high",
                     "invalid_rate_high", "source_down", "pipeline_backlogged"]
    assert m.rule_list[-2].threshold == 6.0 and m.rule_list[-1].threshold == 10.0


def test_everything_configurable_with_duration_texts():
    """Interval, window, baseline, history, rules and webhook options are all read."""
    m = monitor({"interval": "250ms", "window": "2m", "baseline": "30m", "history": 10,
                 "default_rules": False,
                 "rules": [{"name": "slow", "metric": "throughput", "op": "<", "threshold": 5}],
                 "webhook": {"urls": ["http://127.0.0.1:9/hook/abc"], "receiver": "ops",
                             "timeout": "2s", "retries": 1, "backoff": "100ms",
                             "backoff_max": "1s", "repeat_interval": "1h", "queue": 5,
                             "external_url": "http://dash.local"}})
    assert (m.interval, m.window.window, m.window.baseline) == (0.25, 120.0, 1800.0)
    assert [r.name for r in m.rule_list] == ["slow"]
    n = m.notifier
    assert (n.receiver, n.timeout, n.retries, n.backoff, n.backoff_max, n.repeat_interval,
            n.queue.maxsize, n.external_url) == ("ops", 2.0, 1, 0.1, 1.0, 3600.0, 5,
                                                 "http://dash.local")
    assert n.describe()["webhooks"][0]["url"] == "http://127.0.0.1:9/***"


def test_every_alert_is_labelled_with_the_source_and_common_labels():
    """Alerts carry ``source`` and ``alerts.labels``; a rule's own labels take precedence."""
    m = build_monitor(Settings({"alerts": {
        "labels": {"env": "prod", "team": "ops"}, "default_rules": False,
        "rules": [{"name": "x", "metric": "null_rate", "op": ">", "threshold": 0.1,
                   "labels": {"team": "data"}}]}}), metrics=Metrics(), source_name="api")
    assert m.rule_list[0].all_labels == {"alertname": "x", "severity": "warning",
                                         "source": "api", "env": "prod", "team": "data"}
    with pytest.raises(ConfigError) as err:
        monitor({"labels": {"severity": "high"}})
    assert err.value.key == "alerts.labels.severity"


def test_webhook_urls_from_the_environment_are_comma_separated():
    """STREAMDASH_ALERTS__WEBHOOK__URLS may list several URLs separated by commas."""
    settings = load_settings(environ={
        "STREAMDASH_ALERTS__WEBHOOK__URLS": "http://127.0.0.1:1/a, http://127.0.0.1:2/b"})
    m = build_monitor(settings, metrics=Metrics())
    assert [t.url for t in m.notifier.targets] == ["http://127.0.0.1:1/a", "http://127.0.0.1:2/b"]


def test_disabled_alerts_give_an_idle_monitor():
    """enabled: false builds a monitor with no rules that never starts."""
    m = monitor({"enabled": False})
    assert not m.enabled and m.rule_list == []


@pytest.mark.parametrize("alerts,key", [
    ({"windw": 5}, "alerts.windw"),
    ({"window": 0}, "alerts.window"),
    ({"interval": "-1s"}, "alerts.interval"),
    ({"enabled": "yes"}, "alerts.enabled"),
    ({"history": 0}, "alerts.history"),
    ({"rules": [{"name": "x", "metric": "bogus", "op": ">", "threshold": 1}]},
     "alerts.rules[x].metric"),
    ({"webhook": {"urls": ["ftp://x/y"]}}, "alerts.webhook.urls[0]"),
    ({"webhook": {"urls": 5}}, "alerts.webhook.urls"),
    ({"webhook": {"urls": ["http://a/b"], "retries": -1}}, "alerts.webhook.retries"),
    ({"webhook": {"urls": ["http://a/b"], "timeout": 0}}, "alerts.webhook.timeout"),
    ({"webhook": {"urls": ["http://a/b"], "receiver": ""}}, "alerts.webhook.receiver"),
    ({"webhook": {"urls": ["http://a/b"], "external_url": 3}}, "alerts.webhook.external_url"),
    ({"webhook": {"url": "http://a/b"}}, "alerts.webhook.url"),
    ({"webhook": "http://a/b"}, "alerts.webhook"),
])
def test_bad_settings_name_the_key(alerts, key):
    """Every wrong alerts setting is a ConfigError naming its dotted key."""
    with pytest.raises(ConfigError) as err:
        monitor(alerts)
    assert err.value.key == key


def test_bad_webhook_url_error_does_not_echo_a_token():
    """A rejected webhook URL is shown masked in the error message."""
    with pytest.raises(ConfigError) as err:
        monitor({"webhook": {"urls": ["ftp://host/secret-token-xyz"]}})
    assert "secret-token-xyz" not in str(err.value)


@pytest.mark.parametrize("bad", ["soon", None, True, "-1s", float("inf")])
def test_bad_durations(bad):
    """Unparseable, negative or infinite durations are ConfigErrors naming the key."""
    with pytest.raises(ConfigError) as err:
        parse(AlertsParams, {"window": bad}, "alerts")
    assert err.value.key == "alerts.window"
    with pytest.raises(ConfigError, match="positive"):
        parse(AlertsParams, {"window": 0}, "alerts")


def test_alerts_section_reads_durations_with_units():
    """Durations are seconds or a number with ms/s/m/h/d (one reader: streamdash.durations)."""
    p = parse(AlertsParams, {"interval": "250ms", "window": "1d", "baseline": 2}, "alerts")
    assert (p.interval, p.window, p.baseline) == (0.25, 86400.0, 2.0)
