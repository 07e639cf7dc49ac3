"""Alert rules: the :class:`Rule` and the pure per-rule state machine (parsing: ``rule_params``).

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .. import metric_catalog
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
