"""Alert rules from settings: the :class:`RuleParams` model, the default rules, :func:`parse_rules`.

A rule in ``alerts.rules``::

    - name: slow                 # required; a default's name overrides that default
      metric: throughput         # see rules.METRICS, or null_rate.<field>
      op: "<"                    # > >= < <= == !=
      threshold: 5
      for: 30s                   # condition held this long before firing
      keep_firing_for: 1m        # firing until false this long
      severity: warning          # info | warning | critical
      labels: {team: data}
      summary: "{name}: {metric} is {value}"
      description: ""
      no_data: keep_last         # ok | alerting | keep_last
      enabled: true              # false: drop the rule (or the default of that name)

Every problem is a ``ConfigError`` naming the rule: ``alerts.rules[<name>].<field>``. Parsing
lives here so :mod:`.rules` stays pure evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from ..errors import ConfigError
from ..params import Bool, Float, NonNegativeDuration, Params, Text, parse
from .rules import METRICS, NO_DATA, OPS, SEVERITIES, Rule, known_metric

_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _label_name(name: Any) -> Any:
    if not isinstance(name, str) or not _LABEL_NAME.match(name) \
            or name in ("alertname", "severity"):
        raise ValueError("label names are letters, digits and _ (not alertname or severity, "
                         "set by the rule)")
    return name


#: Alert labels: names like Prometheus's (``alertname`` and ``severity`` are the rule's own),
#: values any scalar as text.
Labels = Annotated[dict[Annotated[str, BeforeValidator(_label_name)], Text],
                   BeforeValidator(lambda value: value or {})]


def _metric(metric: str) -> str:
    if not known_metric(metric):
        raise ValueError(f"unknown metric {metric!r} (known: {', '.join(sorted(METRICS))}, "
                         "null_rate.<field>)")
    return metric


def _op(op: str) -> str:
    if op not in OPS:
        raise ValueError(f"unknown operator {op!r} (known: {' '.join(OPS)})")
    return op


class RuleParams(Params):
    """One rule as configured; ``metric``, ``op`` and ``threshold`` are required when enabled."""

    name: Text
    metric: Annotated[str, AfterValidator(_metric)] | None = None
    op: Annotated[str, AfterValidator(_op)] | None = None
    threshold: Float | None = None
    for_: NonNegativeDuration = Field(0.0, alias="for")
    keep_firing_for: NonNegativeDuration = 0.0
    severity: Annotated[Literal[SEVERITIES], BeforeValidator(lambda v: str(v).lower())] = \
        "warning"
    labels: Labels = {}
    summary: str = Rule.summary
    description: str = ""
    no_data: Literal[NO_DATA] = "keep_last"
    enabled: Bool = True


#: Default rules whose threshold is this many effective fetch intervals (``Rule.intervals``).
INTERVAL_SCALED = {"source_down": 3.0, "pipeline_backlogged": 3.0}

#: Default rules a snapshot source starts without: every poll of a snapshot feed repeats what the
#: previous one held, and those repeats are duplicates by design (counted, never late), so a
#: duplicate rate near 1 is the feed's shape, not a fault. ``{name: duplicate_rate_high,
#: enabled: true}`` turns it back on.
OFF_FOR_SNAPSHOTS = frozenset({"duplicate_rate_high"})


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


def _template(key: str, template: str, rule: Rule) -> str:
    """``template`` when it renders for ``rule``; a ``ConfigError`` at ``key`` otherwise."""
    try:
        replace(rule, summary=template).render_summary(0.5)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        raise ConfigError(key, f"bad template {template!r}: {type(exc).__name__}: {exc} "
                               "(fields: name, metric, op, threshold, value, severity, labels)"
                          ) from None
    return template


def parse_rule(raw: Any, where: str, base: Mapping[str, Any] | None = None) -> Rule | None:
    """Validate one rule mapping; ``where`` prefixes error keys (``alerts.rules[name]``).

    ``base`` is the mapping of a default rule of the same name: the fields ``raw`` leaves out
    keep the default's (so a YAML rule can change just a threshold), and a default that follows
    the fetch interval keeps doing so unless ``raw`` sets a threshold. Returns ``None`` for
    ``enabled: false``.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(where, f"a rule must be a mapping with name, metric, op and threshold, "
                                 f"got {raw!r}")
    p = parse(RuleParams, {**(base or {}), **raw}, where, what="rule setting")
    if not p.enabled:
        return None
    for required in ("metric", "op", "threshold"):
        if getattr(p, required) is None:
            raise ConfigError(f"{where}.{required}", "is required")
    scaled = base is not None and "threshold" not in raw
    rule = Rule(name=p.name, metric=p.metric, op=p.op, threshold=p.threshold, for_=p.for_,
                keep_firing_for=p.keep_firing_for, severity=p.severity, labels=p.labels,
                no_data=p.no_data,
                intervals=INTERVAL_SCALED.get(p.name, 0.0) if scaled else 0.0)
    return replace(rule, summary=_template(f"{where}.summary", p.summary, rule),
                   description=_template(f"{where}.description", p.description, rule))


def parse_rules(raw: Any, *, fetch_interval: float, include_defaults: bool = True,
                snapshot: bool = False, section: str = "alerts.rules") -> list[Rule]:
    """Build the rule list: defaults (unless disabled), overridden or extended by ``raw``.

    A configured rule whose name matches a default changes only the fields it sets; with
    ``enabled: false`` it removes the default. Every problem is a ``ConfigError`` naming the
    rule (``alerts.rules[<name>].<field>``).
    """
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ConfigError(section, f"expected a list of rules, got {type(raw).__name__}")
    defaults = {d["name"]: d for d in default_rules(fetch_interval)} if include_defaults else {}
    rules: dict[str, Rule | None] = {
        name: parse_rule({}, f"{section}[{name}]", base)
        for name, base in defaults.items() if not (snapshot and name in OFF_FOR_SNAPSHOTS)}
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
