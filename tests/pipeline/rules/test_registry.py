"""The rule registry: every registered class declares its parameters and builds a rule."""

from __future__ import annotations

import pytest

from streamdash.params import Params, parse
from streamdash.pipeline.rules import RULES, EndsBatch, Fusable, Holds, Rule, RuleContext
from streamdash.pipeline.schema import schema_from_settings
from streamdash.sources.base import FieldHints

SCHEMA = schema_from_settings({"key": "id", "event_time": "ts", "fields": {
    "id": "str", "ts": "timestamp", "value": {"type": "float", "nullable": True},
    "unit": "str", "sensor": "str"}})
HINTS = FieldHints(value_field="value", key_field="sensor", time_field="ts")
#: The fewest parameters each rule needs (the others have defaults).
MINIMAL = {"derive": {"field": "f", "expr": "value * 2"}, "convert": {"to": "C"},
           "filter": {"field": "value", "op": "gt", "value": 0}}


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_rule_declares_params_and_builds_a_rule(name):
    """A registered class has its registry name, a Params model and a build() giving a Rule."""
    cls = RULES[name]
    assert cls.name == name and issubclass(cls.Params, Params)
    context = RuleContext(SCHEMA, HINTS, where=f"transforms[0].{name}")
    rule = cls.build(parse(cls.Params, MINIMAL.get(name, {}), context.where), context)
    assert isinstance(rule, Rule) and isinstance(rule.stats(), dict)


def test_capabilities_are_declared_by_protocol():
    """Which rules end batches, hold windows and fuse is visible through the protocols."""
    def has(protocol):
        return sorted(n for n, cls in RULES.items() if issubclass(cls, protocol))
    assert has(EndsBatch) == ["late", "window"]
    assert has(Holds) == ["window"]
    assert has(Fusable) == ["convert", "dedup", "late", "window"]
