"""The rule registry: every registered class declares its parameters and builds a rule."""

from __future__ import annotations

import pytest

from streamdash.errors import RegistryError
from streamdash.params import Params, parse
from streamdash.pipeline.rules import (
    RULES,
    EndsBatch,
    Fusable,
    Holds,
    Rule,
    RuleContext,
    Stateful,
    declared_rules,
)
from streamdash.pipeline.schema import schema_from_settings
from streamdash.registry import discover
from streamdash.sources.base import FieldHints

SCHEMA = schema_from_settings({"key": "id", "event_time": "ts", "fields": {
    "id": "str", "ts": "timestamp", "value": {"type": "float", "nullable": True},
    "unit": "str", "sensor": "str"}})
HINTS = FieldHints(value_field="value", key_field="sensor", time_field="ts")


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_rule_declares_params_and_builds_a_rule(name):
    """A registered class has its registry name, a Params model and a build() giving a Rule
    from its ``example`` parameters (none: every parameter has a default)."""
    cls = RULES[name]
    assert cls.name == name and issubclass(cls.Params, Params)
    context = RuleContext(SCHEMA, HINTS, where=f"transforms[0].{name}")
    rule = cls.build(parse(cls.Params, getattr(cls, "example", {}), context.where), context)
    assert isinstance(rule, Rule) and isinstance(rule.stats(), dict)


def test_every_rule_module_is_found():
    """Each module of the rules package that defines a rule class is in the registry, in
    module-name order, and only classes that set their own name are rules."""
    assert list(RULES) == sorted(RULES, key=lambda n: RULES[n].__module__)
    assert {cls.__module__.rsplit(".", 1)[1] for cls in RULES.values()} >= {
        "convert", "dedup", "derive", "filter", "late", "outlier", "window"}
    assert "Watermark" not in {cls.__name__ for cls in RULES.values()}


def test_capabilities_are_declared_by_protocol():
    """Which rules end batches, hold windows and fuse is visible through the protocols."""
    def has(protocol):
        return {n for n, cls in RULES.items() if issubclass(cls, protocol)}
    assert has(EndsBatch) >= {"late", "window"}
    assert has(Holds) >= {"window"}
    assert has(Fusable) >= {"convert", "dedup", "late", "window"}
    assert not has(EndsBatch) & {"convert", "dedup", "derive", "filter", "outlier"}


def test_the_rules_with_state_across_batches_say_so_by_protocol():
    """dedup, late and window carry state from batch to batch and can save it (Stateful, a
    protocol with a version, so checked on built rules); the others have nothing to save
    but outlier, whose rolling statistics are not saved (they refill within its window)."""
    built = {}
    for name, cls in RULES.items():
        context = RuleContext(SCHEMA, HINTS, where=f"transforms[0].{name}")
        built[name] = cls.build(parse(cls.Params, getattr(cls, "example", {}), context.where),
                                context)
    assert {n for n, rule in built.items() if isinstance(rule, Stateful)} == \
        {"dedup", "late", "window"}
    assert all(isinstance(built[n].state_version, int) for n in ("dedup", "late", "window"))


def test_a_rule_declared_twice_fails_naming_both_modules(scratch_package):
    """A copied rule module whose name was not changed is refused when the package is read."""
    body = """
        from streamdash.params import Params as BaseParams

        class {cls}:
            name = "toy"

            class Params(BaseParams):
                pass

            @classmethod
            def build(cls, params, context):
                return cls()
    """
    pkg, path = scratch_package({"a": body.format(cls="A"), "b": body.format(cls="B")})
    with pytest.raises(RegistryError, match=rf"rule 'toy' is declared twice: in {pkg}\.a and "
                                            rf"in {pkg}\.b"):
        discover(pkg, path, declared_rules, "rule")


@pytest.mark.parametrize(("body", "problem"), [
    ("name = 'half'", "sets name 'half' but lacks a Params model or a build"),
    ("name = ''", "a rule's name must be a non-empty string"),
])
def test_a_class_with_a_name_that_is_not_a_rule_is_refused(scratch_package, body, problem):
    """A class with its own name is a rule: an empty name, or no Params or build, fails
    naming the class."""
    pkg, path = scratch_package({"half": f"class Half:\n    {body}\n"})
    with pytest.raises(RegistryError, match=rf"{pkg}\.half\.Half:? {problem}"):
        discover(pkg, path, declared_rules, "rule")
