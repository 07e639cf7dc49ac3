"""Alert rules: parsing and validation from settings, and the pure per-rule state machine.

Nothing here does I/O, reads a clock or holds a lock: :func:`step` takes a rule, the rule's
current :class:`AlertState`, the metric value and the time, and returns the next state plus the
transition (if any). The monitor applies it; tests drive it with made-up times.

States follow Prometheus and Grafana::

    inactive ─cond─► pending ─cond held `for`─► firing ─cond false `keep_firing_for`─► resolved
        ▲               │ cond false                                                     │
        └───────────────┘                                     cond again ─► pending ◄────┘

With ``for: 0`` a true condition fires at once. ``keep_firing_for`` keeps a firing alert firing
until the condition has been false for that long, so a flapping input yields one firing and one
resolve. When the metric has **no data** (``None``: e.g. no records in the window) the rule's
``no_data`` setting decides: ``ok`` (condition false), ``alerting`` (condition true) or
``keep_last`` (default: the state does not change).
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .. import metric_catalog
from ..errors import ConfigError, unknown_key
from ..models import utc_iso

#: Comparison operators a rule may use.
OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "==": operator.eq, "!=": operator.ne,
}

SEVERITIES = ("info", "warning", "critical")
NO_DATA = ("ok", "alerting", "keep_last")
STATES = ("inactive", "pending", "firing", "resolved")

#: Quality metrics a rule can watch → what each one means. Declared once, with its formula, in
#: ``metric_catalog.QUALITY``; read-only here.
METRICS = metric_catalog.QUALITY_METRICS
#: ``null_rate.<field>``: share of accepted records whose ``<field>`` is null.
FIELD_METRIC_PREFIX = metric_catalog.FIELD_METRIC_PREFIX
#: ``known_metric(name)``: True for a metric in :data:`METRICS` or a ``null_rate.<field>``.
known_metric = metric_catalog.known_quality_metric

_RULE_KEYS = ("name", "metric", "op", "threshold", "for", "keep_firing_for", "severity",
              "labels", "summary", "description", "no_data", "enabled")
_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_duration(key: str, value: Any, *, allow_zero: bool = True) -> float:
    """Seconds from a number or a text such as ``"30s"``, ``"5m"``, ``"4h"``, ``"250ms"``.

    Negative (or, when ``allow_zero`` is False, zero) durations raise ``ConfigError(key)``.
    """
    if isinstance(value, bool) or value is None:
        raise ConfigError(key, f"expected a duration (seconds or e.g. '30s', '5m'), got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ConfigError(key, f"expected a duration (seconds or e.g. '30s', '5m'), "
                                   f"got {value!r}")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        raise ConfigError(key, f"must be a {'non-negative' if allow_zero else 'positive'} "
                               f"duration, got {value!r}")
    return seconds


@dataclass(frozen=True)
class Rule:
    """One alert rule: fire when ``metric op threshold`` has held for ``for_`` seconds."""

    name: str
    metric: str
    op: str
    threshold: float
    for_: float = 0.0
    keep_firing_for: float = 0.0
    severity: str = "warning"
    labels: Mapping[str, str] = field(default_factory=dict)
    summary: str = "{name}: {metric} is {value} ({op} {threshold})"
    description: str = ""
    no_data: str = "keep_last"
    #: When > 0 the threshold follows the source's effective fetch interval: it becomes
    #: ``max(threshold, intervals × interval)`` (see :meth:`scaled`). Only the default rules
    #: that judge freshness set it; a configured ``threshold`` turns it off.
    intervals: float = 0.0

    def scaled(self, interval: float) -> Rule:
        """This rule for an effective fetch interval of ``interval`` seconds."""
        if self.intervals <= 0:
            return self
        return replace(self, threshold=max(self.threshold, round(self.intervals * interval, 3)))

    def holds(self, value: float) -> bool:
        """True when ``value`` meets the rule's condition."""
        return OPS[self.op](value, self.threshold)

    @property
    def all_labels(self) -> dict[str, str]:
        """The alert's label set: ``alertname`` and ``severity`` plus the rule's own labels."""
        return {"alertname": self.name, "severity": self.severity, **self.labels}

    @property
    def fingerprint(self) -> str:
        """A stable id of the alert: a hash of its sorted label set (like Alertmanager's)."""
        blob = json.dumps(sorted(self.all_labels.items()), separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def render_summary(self, value: float | None) -> str:
        """The summary template filled with the value, threshold and names."""
        return _render(self.summary, self, value)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready view of the rule (as configured, durations in seconds)."""
        return {"name": self.name, "metric": self.metric, "op": self.op,
                "threshold": self.threshold, "for": self.for_,
                "keep_firing_for": self.keep_firing_for, "severity": self.severity,
                "labels": dict(self.labels), "summary": self.summary,
                "description": self.description, "no_data": self.no_data,
                "threshold_intervals": self.intervals or None,
                "fingerprint": self.fingerprint}


class _Missing:
    """Stands for a missing value (no data) in templates: formats as ``n/a`` whatever the spec."""

    def __format__(self, spec: str) -> str:
        return "n/a"

    def __str__(self) -> str:
        return "n/a"


class _Labels(dict):
    """Labels for templates: an unknown label renders empty instead of failing the alert."""

    def __missing__(self, key: str) -> str:
        return ""


def _render(template: str, rule: Rule, value: float | None) -> str:
    fields = {"name": rule.name, "metric": rule.metric, "op": rule.op,
              "threshold": rule.threshold, "severity": rule.severity,
              "value": _Missing() if value is None else value,
              "labels": _Labels(rule.all_labels)}
    return template.format(**fields)


def _check_template(key: str, template: Any, rule: Rule) -> str:
    if not isinstance(template, str):
        raise ConfigError(key, f"expected a text template, got {template!r}")
    try:
        _render(template, rule, 0.5)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        raise ConfigError(key, f"bad template {template!r}: {type(exc).__name__}: {exc} "
                               "(fields: name, metric, op, threshold, value, severity, labels)"
                          ) from None
    return template


def check_labels(key: str, labels: Any) -> dict[str, str]:
    """Validate a label mapping (names like Prometheus's; ``alertname``/``severity`` reserved)."""
    labels = labels or {}
    if not isinstance(labels, Mapping):
        raise ConfigError(key, f"expected a mapping of label → text, got {labels!r}")
    for k, v in labels.items():
        if not isinstance(k, str) or not _LABEL_NAME.match(k) or k in ("alertname", "severity"):
            raise ConfigError(f"{key}.{k}", "label names are letters, digits and _ "
                                            "(not alertname or severity, set by the rule)")
        if v is None or isinstance(v, (dict, list)):
            raise ConfigError(f"{key}.{k}", f"label values are text, got {v!r}")
    return {str(k): str(v) for k, v in labels.items()}


def parse_rule(raw: Any, where: str, base: Rule | None = None) -> Rule | None:
    """Validate one rule mapping; ``where`` prefixes error keys (``alerts.rules[name]``).

    ``base`` is a default rule of the same name whose unset fields are kept (so a YAML rule can
    change just a threshold). Returns ``None`` for ``enabled: false``.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(where, f"a rule must be a mapping with name, metric, op and threshold, "
                                 f"got {raw!r}")
    unknown = sorted(set(raw) - set(_RULE_KEYS))
    if unknown:
        raise unknown_key(f"{where}.{unknown[0]}", unknown[0], _RULE_KEYS, what="rule setting")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}.enabled", f"expected true or false, got {enabled!r}")
    if not enabled:
        return None
    name = raw.get("name")
    prior = base.describe() if base else {}
    missing = [k for k in ("metric", "op", "threshold") if k not in raw and k not in prior]
    if missing:
        raise ConfigError(f"{where}.{missing[0]}", "is required")
    metric = raw.get("metric", prior.get("metric"))
    if not isinstance(metric, str) or not known_metric(metric):
        raise ConfigError(f"{where}.metric", f"unknown metric {metric!r} (known: "
                                             f"{', '.join(sorted(METRICS))}, null_rate.<field>)")
    op = raw.get("op", prior.get("op"))
    if op not in OPS:
        raise ConfigError(f"{where}.op", f"unknown operator {op!r} (known: {' '.join(OPS)})")
    threshold = raw.get("threshold", prior.get("threshold"))
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
            or not math.isfinite(threshold):
        raise ConfigError(f"{where}.threshold", f"expected a number, got {threshold!r}")
    for_ = parse_duration(f"{where}.for", raw.get("for", prior.get("for", 0)))
    keep = parse_duration(f"{where}.keep_firing_for",
                          raw.get("keep_firing_for", prior.get("keep_firing_for", 0)))
    severity = str(raw.get("severity", prior.get("severity", "warning"))).lower()
    if severity not in SEVERITIES:
        raise ConfigError(f"{where}.severity", f"must be one of {', '.join(SEVERITIES)}, "
                                               f"got {raw.get('severity')!r}")
    no_data = str(raw.get("no_data", prior.get("no_data", "keep_last")))
    if no_data not in NO_DATA:
        raise ConfigError(f"{where}.no_data", f"must be one of {', '.join(NO_DATA)}, "
                                              f"got {no_data!r}")
    labels = check_labels(f"{where}.labels", raw.get("labels", prior.get("labels", {})))
    # A default that follows the fetch interval keeps doing so unless a threshold is set here.
    intervals = base.intervals if base is not None and "threshold" not in raw else 0.0
    rule = Rule(name=name, metric=metric, op=op, threshold=float(threshold), for_=for_,
                keep_firing_for=keep, severity=severity, labels=labels, no_data=no_data,
                intervals=intervals)
    summary = raw.get("summary", prior.get("summary", Rule.summary))
    description = raw.get("description", prior.get("description", ""))
    return replace(rule, summary=_check_template(f"{where}.summary", summary, rule),
                   description=_check_template(f"{where}.description", description, rule))


#: Default rules whose threshold is this many effective fetch intervals (``Rule.intervals``).
INTERVAL_SCALED = {"source_down": 3.0, "pipeline_backlogged": 3.0}


def default_rules(fetch_interval: float) -> list[dict[str, Any]]:
    """The rules that ship enabled, as rule mappings (``source_down`` and ``pipeline_backlogged``
    scale with the interval: see :data:`INTERVAL_SCALED`)."""
    return [
        {"name": "null_rate_high", "metric": "null_rate", "op": ">", "threshold": 0.05,
         "for": 15, "keep_firing_for": 30, "severity": "warning",
         "summary": "Null rate {value:.1%} is above {threshold:.0%}"},
        {"name": "duplicate_rate_high", "metric": "duplicate_rate", "op": ">", "threshold": 0.02,
         "for": 15, "keep_firing_for": 30, "severity": "warning",
         "summary": "Duplicate rate {value:.1%} is above {threshold:.0%}"},
        {"name": "late_rate_high", "metric": "late_rate", "op": ">", "threshold": 0.05,
         "for": 15, "keep_firing_for": 30, "severity": "warning",
         "summary": "Late-arrival rate {value:.1%} is above {threshold:.0%}"},
        {"name": "invalid_rate_high", "metric": "invalid_rate", "op": ">", "threshold": 0.01,
         "for": 15, "keep_firing_for": 30, "severity": "warning",
         "summary": "Invalid-record rate {value:.1%} is above {threshold:.0%}"},
        {"name": "source_down", "metric": "fetch_age_seconds", "op": ">",
         "threshold": round(3 * fetch_interval, 3), "for": 0, "keep_firing_for": 0,
         "severity": "critical",
         "summary": "Source down: no successful fetch for {value:.0f} s (3 intervals)"},
        {"name": "pipeline_backlogged", "metric": "backpressure_seconds", "op": ">",
         "threshold": round(max(10.0, 3 * fetch_interval), 3), "for": 0,
         "keep_firing_for": 0, "severity": "warning",
         "summary": "Pipeline behind: the producer has waited {value:.0f} s for room in the "
                    "full queue (processing is slower than ingestion)"},
    ]


#: Default rules a snapshot source starts without: every poll of a snapshot feed repeats what the
#: previous one held, and those repeats are duplicates by design (counted, never late), so a
#: duplicate rate near 1 is the feed's shape, not a fault. ``{name: duplicate_rate_high,
#: enabled: true}`` turns it back on.
OFF_FOR_SNAPSHOTS = frozenset({"duplicate_rate_high"})


def parse_rules(raw: Any, *, fetch_interval: float, include_defaults: bool = True,
                snapshot: bool = False,
                section: str = "alerts.rules") -> list[Rule]:
    """Build the rule list: defaults (unless disabled), overridden or extended by ``raw``.

    A configured rule whose name matches a default changes only the fields it sets; with
    ``enabled: false`` it removes the default. Every problem is a ``ConfigError`` naming the
    rule (``alerts.rules[<name>].<field>``).
    """
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ConfigError(section, f"expected a list of rules, got {type(raw).__name__}")
    defaults = {}
    if include_defaults:
        for d in default_rules(fetch_interval):
            rule = parse_rule(d, f"{section}[{d['name']}]")
            assert rule is not None
            defaults[d["name"]] = replace(rule, intervals=INTERVAL_SCALED.get(d["name"], 0.0))
    rules: dict[str, Rule | None] = {n: r for n, r in defaults.items()
                                     if not (snapshot and n in OFF_FOR_SNAPSHOTS)}
    seen: set[str] = set()
    for i, item in enumerate(raw):
        name = item.get("name") if isinstance(item, Mapping) else None
        named = isinstance(name, str) and bool(name.strip())
        where = f"{section}[{name}]" if named else f"{section}[{i}]"
        if not named:
            raise ConfigError(f"{where}.name", "every rule needs a non-empty name")
        if name in seen:
            raise ConfigError(where, f"duplicate rule name {name!r}")
        seen.add(name)
        rules[name] = parse_rule(item, where, defaults.get(name))
    return [r for r in rules.values() if r is not None]


@dataclass(frozen=True)
class AlertState:
    """Where one rule's alert stands. Times are epoch seconds (``None`` when not applicable).

    ``active_at`` is when the condition last became true (start of pending), ``starts_at`` when
    the alert fired, ``ends_at`` when it resolved, ``keep_firing_since`` when a firing alert's
    condition first turned false (``keep_firing_for`` counts from there). ``value`` is the
    latest evaluated value, ``fired_value`` the one that made the alert fire.
    """

    state: str = "inactive"
    value: float | None = None
    active_at: float | None = None
    starts_at: float | None = None
    ends_at: float | None = None
    last_evaluated: float | None = None
    keep_firing_since: float | None = None
    no_data: bool = False
    fired_value: float | None = None


@dataclass(frozen=True)
class Transition:
    """A state change: ``previous`` → ``state.state`` at time ``at``."""

    rule: Rule
    previous: str
    state: AlertState
    at: float


def step(rule: Rule, current: AlertState, value: float | None, now: float
         ) -> tuple[AlertState, Transition | None]:
    """Advance one rule's state for a new evaluation; pure (no clock, no I/O)."""
    no_data = value is None or (isinstance(value, float) and math.isnan(value))
    if no_data:
        if rule.no_data == "keep_last":
            return replace(current, last_evaluated=now, no_data=True), None
        cond = rule.no_data == "alerting"
        value = None
    else:
        cond = rule.holds(value)
    # Collect the changes and build the next state once (replace() is the hot spot here).
    changes: dict[str, Any] = {"last_evaluated": now, "no_data": no_data, "value": value}
    s = current.state
    if cond:
        if s in ("inactive", "resolved"):
            changes.update(state="pending", active_at=now, keep_firing_since=None,
                           starts_at=None, ends_at=None)
            if rule.for_ <= 0:
                changes.update(state="firing", starts_at=now, fired_value=value)
        elif s == "pending" and now - (current.active_at or now) >= rule.for_:
            changes.update(state="firing", starts_at=now, fired_value=value)
        else:  # still pending, or firing (condition back before keep_firing_for ran out)
            changes["keep_firing_since"] = None
    elif s == "pending":
        changes.update(state="inactive", active_at=None)
    elif s == "firing":
        since = current.keep_firing_since if current.keep_firing_since is not None else now
        if now - since >= rule.keep_firing_for:
            changes.update(state="resolved", ends_at=now, keep_firing_since=None)
        else:
            changes["keep_firing_since"] = since
    nxt = AlertState(**{**current.__dict__, **changes})
    if nxt.state == s:
        return nxt, None
    return nxt, Transition(rule, s, nxt, now)


def alert_view(rule: Rule, st: AlertState) -> dict[str, Any]:
    """The JSON-ready view of one alert (times as UTC ISO-8601 to the millisecond)."""
    return {
        "name": rule.name, "fingerprint": rule.fingerprint, "state": st.state,
        "severity": rule.severity, "metric": rule.metric, "op": rule.op,
        "threshold": rule.threshold, "value": st.value, "fired_value": st.fired_value,
        "no_data": st.no_data,
        "summary": rule.render_summary(st.value), "labels": rule.all_labels,
        "annotations": _annotations(rule, st.value),
        "active_at": utc_iso(st.active_at), "starts_at": utc_iso(st.starts_at),
        "ends_at": utc_iso(st.ends_at), "last_evaluated": utc_iso(st.last_evaluated),
    }


def transition_view(t: Transition) -> dict[str, Any]:
    """The JSON-ready record of a transition: the alert view plus ``previous`` and ``at``."""
    return {**alert_view(t.rule, t.state), "previous": t.previous, "at": utc_iso(t.at),
            "at_ts": t.at}


def _annotations(rule: Rule, value: float | None) -> dict[str, str]:
    out = {"summary": rule.render_summary(value)}
    if rule.description:
        out["description"] = _render(rule.description, rule, value)
    return out
