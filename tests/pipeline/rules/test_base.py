"""What the rules share: columns, the build context, fusion by protocol."""

from __future__ import annotations

import pytest

from streamdash.errors import ConfigError
from streamdash.pipeline.processor import Pipeline
from streamdash.pipeline.rules import Dedup, Late, RuleContext, Watermark, Windows, column
from streamdash.pipeline.schema import schema_from_settings
from streamdash.pipeline.validator import Validator
from streamdash.sources.base import FieldHints


def test_column_handles_missing_fields():
    """column() reads a field from every record, None where it is missing."""
    assert column([{"a": 1}, {"a": 2}], "a") == [1, 2]
    assert column([{"a": 1}, {}], "a") == [1, None]


def test_rule_context_names_the_item_in_its_errors():
    """A bad field name and a missing event time are ConfigErrors at the item's key; without
    an event bus a rule gets no sink."""
    context = RuleContext(schema_from_settings({"fields": {"v": "float"}}), FieldHints(),
                          where="transforms[3].late")
    with pytest.raises(ConfigError) as err:
        context.field_name("field", "")
    assert err.value.key == "transforms[3].late.field"
    with pytest.raises(ConfigError) as err:
        context.require_event_time()
    assert err.value.key == "transforms[3].late"
    assert context.sink("late") is None
    got = []
    context.publish = lambda topic, payload: got.append((topic, payload))
    context.sink("late")([{"a": 1}])
    assert got == [("late", [{"a": 1}])]


class _Plain:
    """A rule without fuse(): it runs batch by batch."""

    name = "plain"

    def __call__(self, records, times, ctx):
        return records, times

    def stats(self):
        return {}


def test_the_validator_fuses_the_longest_fusable_prefix():
    """Fusion stops at the first rule that is not Fusable, or whose fuse() returns None (a
    sliding window); the rest is staged."""
    schema = schema_from_settings({"key": "id", "event_time": "ts",
                                   "fields": {"id": "str", "ts": "timestamp", "v": "float"}})
    wm = Watermark()
    sliding = Windows("v", None, wm, size=10, slide=5)
    dedup, plain, late = Dedup("id"), _Plain(), Late(wm)
    assert Validator(schema, [dedup, plain, late]).fused == [dedup]
    assert Validator(schema, [dedup, late, sliding, Dedup("id")]).fused == [dedup, late]
    pipeline = Pipeline(schema, [dedup, plain])
    assert pipeline.staged == [plain]
