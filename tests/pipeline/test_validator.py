"""The validator compiled from a schema: the fast check, its reasons, nulls and timestamps."""

from __future__ import annotations

import functools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamdash.pipeline.jsonl import Unparsed
from streamdash.pipeline.schema import schema_from_settings
from streamdash.pipeline.validator import Validator

SENSOR = {
    "key": "id", "event_time": "ts",
    "fields": {"id": "str", "sensor": {"type": "str", "pattern": r"sensor-\d+"},
               "ts": "timestamp",
               "value": {"type": "float", "nullable": True, "min": -50, "max": 150},
               "unit": {"type": "str", "allowed": ["C", "F"]},
               "count": {"type": "int", "required": False, "min": 0},
               "ok": {"type": "bool", "required": False},
               "note": {"type": "str", "required": False, "nullable": True, "max_length": 20}},
}
GOOD = {"id": "a1", "sensor": "sensor-1", "ts": "2024-06-01T00:00:01.250Z", "value": 21.5,
        "unit": "C"}


def validator(**changes):
    return Validator(schema_from_settings({**SENSOR, **changes}))


def rules(v, rec):
    return [(r["field"], r["rule"]) for r in v.reasons(rec)]


def check(v, rec):
    """Run the compiled check and the reason finder; they must agree."""
    ok, times, bad, nulls = v.run([rec])
    assert bool(bad) == bool(v.reasons(rec))
    return ok, times, bad, nulls


def test_valid_record_passes_with_its_event_time():
    """A record meeting every rule is valid and its event time is epoch seconds (UTC)."""
    ok, times, bad, _ = check(validator(), dict(GOOD))
    assert ok == [GOOD] and not bad
    assert times == [1717200001.25]


@pytest.mark.parametrize("field,value,rule", [
    ("value", True, "type"),              # bool is not a number
    ("value", "21.5", "type"),            # a numeric string is not a number
    ("value", math.nan, "finite"),
    ("value", math.inf, "finite"),
    ("value", -math.inf, "finite"),
    ("value", {"v": 1}, "type"),          # nested object where a scalar is expected
    ("value", [1, 2], "type"),
    ("value", 200, "max"),
    ("value", -51, "min"),
    ("sensor", "", "pattern"),            # empty string
    ("sensor", "sensor-1x", "pattern"),   # pattern must match the whole value
    ("sensor", 5, "type"),
    ("unit", "K", "allowed"),
    ("unit", "c", "allowed"),
    ("id", None, "null"),
    ("ts", "not-a-time", "timestamp"),
    ("ts", "2024-13-45T25:61:00Z", "timestamp"),
    ("ts", "2024-06-01 00:00:00 UTC+99", "timestamp"),
    ("ts", True, "timestamp"),
    ("ts", "", "timestamp"),
    ("ts", "2024-06-01T00:00:0١.250Z", "timestamp"),  # a non-ASCII digit
    ("count", -1, "min"),
    ("count", 1.0, "type"),
    ("count", True, "type"),
    ("ok", 1, "type"),
    ("note", "x" * 21, "max_length"),
])
def test_each_rule_rejects_with_its_reason(field, value, rule):
    """Each schema check rejects its edge case and names the field and rule."""
    v = validator()
    rec = {**GOOD, field: value}
    _, _, bad, _ = check(v, rec)
    assert bad == [rec]
    assert (field, rule) in rules(v, rec)


def test_every_reason_is_listed():
    """A record with several problems gets one reason per problem, with value excerpts."""
    v = validator()
    rec = {"id": 7, "ts": "nope", "value": "abc", "unit": "X"}
    assert sorted(rules(v, rec)) == sorted([("id", "type"), ("sensor", "required"),
                                            ("ts", "timestamp"), ("value", "type"),
                                            ("unit", "allowed")])
    excerpts = {r["field"]: r["value"] for r in v.reasons(rec)}
    assert excerpts["value"] == "'abc'" and excerpts["sensor"] is None


def test_huge_strings_are_excerpted_and_unicode_kept():
    """A huge offending value is quoted as a short excerpt; unicode strings pass untouched."""
    v = validator()
    huge = {**GOOD, "sensor": "é" * 1_000_000}
    reason = v.reasons(huge)[0]
    assert reason["rule"] == "pattern" and len(reason["value"]) <= 80
    uni = {**GOOD, "id": "日本語-🙂", "note": "naïve ☃"}
    ok, _, bad, _ = check(v, uni)
    assert ok == [uni] and not bad


def test_nulls_are_counted_not_rejected():
    """A null in a nullable field is valid and counted per field; optional fields may be absent."""
    v = validator()
    recs = [{**GOOD, "id": str(i), "value": None} for i in range(3)] + [dict(GOOD)]
    ok, _, bad, nulls = v.run(recs)
    assert len(ok) == 4 and not bad and nulls == {"value": 3}


def test_nulls_of_invalid_records_are_not_counted():
    """Nulls are a tally of valid records: a record with a null that a later field makes
    invalid adds nothing (the compiled loop counts a null before it reaches that field)."""
    v = validator()
    bad_unit = {**GOOD, "id": "x", "value": None, "unit": "K"}
    ok, _, bad, nulls = v.run([bad_unit, {**GOOD, "value": None}])
    assert bad == [bad_unit] and len(ok) == 1 and nulls == {"value": 1}
    assert v.run([bad_unit])[3] == {}


def test_not_an_object_and_unparsed_lines():
    """Non-objects are rejected with rule 'object', unparseable lines with rule 'json'."""
    v = validator()
    for rec, rule in ((["a"], "object"), ("text", "object"), (None, "object"),
                      (Unparsed("{oops", "bad"), "json")):
        _, _, bad, _ = v.run([rec])
        assert bad == [rec] and rules(v, rec) == [(None, rule)]


def test_timestamps_in_other_forms_are_stored_as_utc():
    """Naive ISO, offsets and epoch seconds/milliseconds are accepted and rewritten as UTC ISO."""
    v = validator()
    forms = ["2024-06-01T00:00:01.250", "2024-06-01T02:00:01.250+02:00", 1717200001.25,
             1717200001250, "2024-06-01T00:00:01.250Z"]
    recs = [{**GOOD, "id": str(i), "ts": f} for i, f in enumerate(forms)]
    ok, times, bad, _ = v.run(recs)
    assert not bad and times == [1717200001.25] * 5
    assert {r["ts"] for r in ok} == {"2024-06-01T00:00:01.250Z"}


def test_rejected_records_are_not_rewritten():
    """A record rejected for another field keeps its original timestamp text."""
    v = validator()
    rec = {**GOOD, "ts": "2024-06-01T00:00:01", "unit": "X"}
    v.run([rec])
    assert rec["ts"] == "2024-06-01T00:00:01"


def test_unknown_field_policies():
    """Unknown fields are kept, dropped, or make the record invalid, as configured."""
    rec = {**GOOD, "extra": 1}
    keep = validator()
    assert keep.run([dict(rec)])[0][0]["extra"] == 1
    drop = validator(unknown="drop")
    assert "extra" not in drop.run([dict(rec)])[0][0]
    reject = validator(unknown="reject")
    assert reject.run([dict(rec)])[2] and ("extra", "unknown") in rules(reject, rec)


def test_timestamp_bounds():
    """min/max of a timestamp field are times (ISO or epoch) and reject outside instants."""
    v = Validator(schema_from_settings({"fields": {"ts": {"type": "timestamp",
                                                          "min": "2024-01-01T00:00:00Z",
                                                          "max": 1893456000}}}))
    assert v.run([{"ts": "2023-12-31T23:59:59Z"}])[2]
    assert v.run([{"ts": "2040-01-01T00:00:00Z"}])[2]
    assert not v.run([{"ts": "2024-06-01T00:00:00Z"}])[2]


def test_allowed_tells_bool_from_numbers():
    """allowed: [1, 2] does not admit True, and allowed: [true] does not admit 1."""
    nums = Validator(schema_from_settings({"fields": {"n": {"type": "scalar", "allowed": [1, 2]}}}))
    assert nums.run([{"n": True}])[2] and not nums.run([{"n": 2}])[2]
    bools = Validator(schema_from_settings({"fields": {"b": {"type": "bool", "allowed": [True]}}}))
    assert bools.run([{"b": False}])[2] and not bools.run([{"b": True}])[2]


values = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                   st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
                   st.sampled_from(["C", "F", "sensor-7", "2024-06-01T00:00:01.250Z",
                                    "2024-06-01T00:00:01", "2024-06-01T00:00:01.25Z"]),
                   st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3),
                                                                        st.integers(), max_size=2))
records = st.dictionaries(st.sampled_from(["id", "sensor", "ts", "value", "unit", "count", "ok",
                                           "note", "extra"]), values)


@functools.cache
def cached_validator(unknown):
    return validator(unknown=unknown)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(records, st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=5), "sensor": st.just("sensor-3"),
     "ts": st.just("2024-06-01T00:00:01.250Z"), "value": values, "unit": st.just("F")})),
    max_size=20), st.sampled_from(["keep", "drop", "reject"]))
def test_compiled_check_agrees_with_reasons(recs, unknown):
    """For any records, the compiled check rejects exactly those the reason finder faults."""
    v = cached_validator(unknown)
    ok, times, bad, _ = v.run([dict(r) for r in recs])
    assert len(ok) + len(bad) == len(recs) == len(ok) + len(bad)
    assert len(times) == len(ok)
    for rec in recs:
        assert (v.run([dict(rec)])[2] != []) == (v.reasons(dict(rec)) != [])
