"""Schema settings: the model, its errors, aliases and the schema derived from hints."""

from __future__ import annotations

import pytest

from streamdash.errors import ConfigError
from streamdash.pipeline.schema import FieldSpec, Schema, default_schema, schema_from_settings
from streamdash.pipeline.validator import Validator
from streamdash.sources.base import FieldHints
from streamdash.sources.simulator import SimulatedSource


def rules(v, rec):
    return [(r["field"], r["rule"]) for r in v.reasons(rec)]


@pytest.mark.parametrize("raw,key", [
    ({"fields": {"a": {"type": "complex"}}}, "schema.fields.a.type"),
    ({"fields": {"a": {"type": "str", "min": 1}}}, "schema.fields.a.min"),
    ({"fields": {"a": {"type": "int", "min": 5, "max": 1}}}, "schema.fields.a.min"),
    ({"fields": {"a": {"type": "str", "pattern": "("}}}, "schema.fields.a.pattern"),
    ({"fields": {"a": {"type": "int", "pattern": "x"}}}, "schema.fields.a.pattern"),
    ({"fields": {"a": {"type": "str", "colour": "red"}}}, "schema.fields.a.colour"),
    ({"fields": {"a": {"type": "str", "required": "yes"}}}, "schema.fields.a.required"),
    ({"fields": {"a": {"type": "str", "allowed": []}}}, "schema.fields.a.allowed"),
    ({"fields": {"a": {"type": "int", "max": "ten"}}}, "schema.fields.a.max"),
    ({"fields": {"a": {"type": "str", "max_length": -1}}}, "schema.fields.a.max_length"),
    ({"fields": {"a": "str"}, "key": "b"}, "schema.key"),
    ({"fields": {"a": "any"}, "key": "a"}, "schema.key"),
    ({"fields": {"a": "str"}, "event_time": "a"}, "schema.event_time"),
    ({"fields": {"a": {"type": "timestamp", "required": False}}, "event_time": "a"},
     "schema.event_time"),
    ({"fields": {"a": "str"}, "unknown": "ignore"}, "schema.unknown"),
    ({"fields": {}}, "schema.fields"),
    ({"fields": {"a": "str"}, "extra": 1}, "schema.extra"),
    ("fields", "schema"),
])
def test_bad_schema_is_a_config_error_naming_field_and_rule(raw, key):
    """Every mistake in a schema raises ConfigError naming the field and rule."""
    with pytest.raises(ConfigError) as err:
        schema_from_settings(raw)
    assert err.value.key == key


def test_schema_in_code_and_type_aliases():
    """A schema can be built in code; YAML type aliases (number, string …) are understood."""
    s = Schema(fields=(FieldSpec("n", "float"),))
    assert Validator(s).run([{"n": 1}])[0]
    s2 = schema_from_settings({"fields": {"n": "number", "s": "string", "b": "boolean",
                                          "t": "datetime", "i": "integer"}})
    assert [f.type for f in s2.fields] == ["float", "str", "bool", "timestamp", "int"]
    with pytest.raises(ConfigError):
        Schema(fields=(FieldSpec("a"), FieldSpec("a")))


def test_default_schema_from_simulator_hints():
    """Without a schema, the simulator's invalid records are rejected with the right reasons."""
    v = Validator(default_schema(SimulatedSource.hints))
    base = {"id": "x", "sensor": "s", "ts": "2024-06-01T00:00:00.000Z", "temperature": 20.0,
            "humidity": 40.0, "unit": "C"}
    assert rules(v, {**base, "temperature": "abc"}) == [("temperature", "type")]
    assert rules(v, {k: x for k, x in base.items() if k != "sensor"}) == [("sensor", "required")]
    assert rules(v, {**base, "ts": "not-a-time"}) == [("ts", "timestamp")]
    assert not v.reasons({**base, "temperature": None})
    assert default_schema(FieldHints()).fields == ()
