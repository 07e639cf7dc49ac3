"""Alert rules from settings: defaults, overrides and every ConfigError naming the rule."""

from __future__ import annotations

import pytest

from streamdash.errors import ConfigError
from streamdash.quality.rule_params import default_rules, parse_rule, parse_rules


def test_defaults_ship_enabled_with_sensible_thresholds():
    """The default rules cover nulls, duplicates, late, invalid, a critical source-down and a
    backlogged pipeline (the producer waiting for queue room)."""
    rules = {r.name: r for r in parse_rules(None, fetch_interval=5.0)}
    assert rules["null_rate_high"].threshold == 0.05
    assert rules["duplicate_rate_high"].threshold == 0.02
    assert rules["late_rate_high"].threshold == 0.05
    assert rules["invalid_rate_high"].threshold == 0.01
    down = rules["source_down"]
    assert (down.metric, down.op, down.threshold, down.severity) == (
        "fetch_age_seconds", ">", 15.0, "critical")
    backlog = rules["pipeline_backlogged"]
    assert (backlog.metric, backlog.threshold, backlog.severity) == (
        "backpressure_seconds", 15.0, "warning")
    assert rules_threshold(parse_rules(None, fetch_interval=1.0), "pipeline_backlogged") == 10.0
    assert len(default_rules(1.0)) == len(rules)


def rules_threshold(rules, name):
    return next(r.threshold for r in rules if r.name == name)


def test_configured_rule_overrides_or_disables_a_default_and_adds_new_ones():
    """A rule named like a default changes only what it sets; enabled: false removes it."""
    rules = {r.name: r for r in parse_rules([
        {"name": "null_rate_high", "threshold": 0.2, "for": "1m"},
        {"name": "late_rate_high", "enabled": False},
        {"name": "slow", "metric": "throughput", "op": "<", "threshold": 1, "severity": "info",
         "keep_firing_for": "30s", "no_data": "ok", "labels": {"team": "ops"}},
    ], fetch_interval=1.0)}
    assert "late_rate_high" not in rules
    nulls = rules["null_rate_high"]
    assert (nulls.threshold, nulls.for_, nulls.keep_firing_for) == (0.2, 60.0, 30.0)
    assert nulls.summary.startswith("Null rate")
    slow = rules["slow"]
    assert (slow.op, slow.keep_firing_for, slow.no_data, slow.labels) == (
        "<", 30.0, "ok", {"team": "ops"})
    assert [r.name for r in parse_rules([], fetch_interval=1, include_defaults=False)] == []


def test_freshness_defaults_follow_the_effective_interval_unless_a_threshold_is_set():
    """source_down and pipeline_backlogged scale to 3 effective intervals (never below their
    configured floor); a rule that sets its own threshold keeps it."""
    rules = {r.name: r for r in parse_rules([{"name": "pipeline_backlogged", "for": 5}],
                                            fetch_interval=5.0)}
    assert rules["source_down"].scaled(60.0).threshold == 180.0
    assert rules["source_down"].scaled(1.0).threshold == 15.0  # floor: the configured interval
    assert rules["pipeline_backlogged"].scaled(60.0).threshold == 180.0  # override kept scaling
    assert rules["null_rate_high"].scaled(60.0) is rules["null_rate_high"]
    assert rules["source_down"].describe()["threshold_intervals"] == 3.0
    fixed = {r.name: r for r in parse_rules([{"name": "source_down", "threshold": 20}],
                                            fetch_interval=5.0)}
    assert fixed["source_down"].scaled(60.0).threshold == 20.0


@pytest.mark.parametrize("rule,key,words", [
    ({"name": "x", "metric": "nope", "op": ">", "threshold": 1}, "alerts.rules[x].metric",
     "unknown metric"),
    ({"name": "x", "metric": "null_rate", "op": "=>", "threshold": 1}, "alerts.rules[x].op",
     "unknown operator"),
    ({"name": "x", "metric": "null_rate", "op": ">", "threshold": 1, "for": -1},
     "alerts.rules[x].for", "non-negative"),
    ({"name": "x", "metric": "null_rate", "op": ">", "threshold": 1, "keep_firing_for": "-5s"},
     "alerts.rules[x].keep_firing_for", "non-negative"),
    ({"name": "x", "metric": "null_rate", "op": ">", "threshold": "high"},
     "alerts.rules[x].threshold", "number"),
    ({"name": "x", "metric": "null_rate", "op": ">"}, "alerts.rules[x].threshold", "required"),
    ({"name": "x", "metric": "null_rate", "op": ">", "threshold": 1, "severity": "fatal"},
     "alerts.rules[x].severity", "info, warning, critical"),
    ({"name": "x", "metric": "null_rate", "op": ">", "threshold": 1, "no_data": "ignore"},
     "alerts.rules[x].no_data", "keep_last"),
    ({"name": "x", "metric": "null_rate", "op": ">", "threshold": 1, "summary": "{nope}"},
     "alerts.rules[x].summary", "bad template"),
    ({"name": "x", "metric": "null_rate", "op": ">", "threshold": 1, "labels": {"a-b": "1"}},
     "alerts.rules[x].labels.a-b", "label names"),
    ({"name": "x", "metric": "null_rate", "op": ">", "threshold": 1, "colour": "red"},
     "alerts.rules[x].colour", "unknown rule setting"),
    ({"metric": "null_rate", "op": ">", "threshold": 1}, "alerts.rules[0].name", "name"),
    ({"name": "x", "metric": "null_rate", "op": ">", "threshold": 1, "enabled": "no"},
     "alerts.rules[x].enabled", "true or false"),
])
def test_invalid_rules_raise_config_error_naming_the_rule(rule, key, words):
    """Each invalid rule setting is a ConfigError whose key names the rule and the field."""
    with pytest.raises(ConfigError) as err:
        parse_rules([rule], fetch_interval=1.0)
    assert err.value.key == key and words in str(err.value)


def test_duplicate_names_and_non_list_rules_are_rejected():
    """Two rules with one name, or rules that are not a list, are ConfigErrors."""
    rule = {"name": "x", "metric": "null_rate", "op": ">", "threshold": 1}
    with pytest.raises(ConfigError, match="duplicate rule name 'x'"):
        parse_rules([rule, rule], fetch_interval=1.0)
    with pytest.raises(ConfigError, match="expected a list"):
        parse_rules({"x": rule}, fetch_interval=1.0)
    with pytest.raises(ConfigError, match="mapping"):
        parse_rule("x > 1", "alerts.rules[0]")


def test_per_field_null_metric_is_accepted():
    """``null_rate.<field>`` is a valid metric for any field name."""
    rule = parse_rule({"name": "t", "metric": "null_rate.temperature", "op": ">",
                       "threshold": 0.1}, "alerts.rules[t]")
    assert rule.metric == "null_rate.temperature"


def test_snapshot_sources_start_without_the_duplicate_rate_rule():
    """A snapshot feed repeats its records on every poll by design: duplicate_rate_high is off
    by default for it, and one line turns it back on with the default's settings."""
    names = {r.name for r in parse_rules(None, fetch_interval=60, snapshot=True)}
    assert "duplicate_rate_high" not in names and "null_rate_high" in names
    assert "duplicate_rate_high" in {r.name for r in parse_rules(None, fetch_interval=60)}
    back = parse_rules([{"name": "duplicate_rate_high", "enabled": True}], fetch_interval=60,
                       snapshot=True)
    rule = next(r for r in back if r.name == "duplicate_rate_high")
    assert rule.metric == "duplicate_rate" and rule.threshold == 0.02
