"""Record extraction (records_path) and the typed field map."""

from __future__ import annotations

import pytest

from streamdash.errors import ConfigError
from streamdash.sources.fields import (
    MISSING,
    RecordMapper,
    ShapeError,
    extract_records,
    parse_fields,
    parse_time,
    resolve,
)

DOC = {"meta": {"offset": 7200},
       "rows": [{"a": {"b": [10, 20]}, "s": "3.5", "t": 1_700_000_000_000}]}


def mapped(spec: dict, records: list, root=None, fetched_at: float = 0.0) -> list:
    return RecordMapper(parse_fields("source.fields", spec)).map(records, root, fetched_at)


def test_resolve_walks_objects_and_list_indexes():
    """Dotted paths read nested keys and list items (negative indexes too); misses are MISSING."""
    assert resolve(DOC, ("rows", "0", "a", "b", "1")) == 20
    assert resolve(DOC, ("rows", "-1", "s")) == "3.5"
    assert resolve(DOC, ("rows", "5")) is MISSING
    assert resolve(DOC, ("meta", "offset", "x")) is MISSING
    assert resolve(DOC, ()) is DOC


def test_extract_records_from_list_object_or_root():
    """records_path to a list gives its items, to an object one record, '' the document."""
    assert extract_records(DOC, "rows") == DOC["rows"]
    assert extract_records(DOC, "meta") == [{"offset": 7200}]
    assert extract_records([{"x": 1}], "") == [{"x": 1}]
    assert extract_records({"rows": []}, "rows") == []
    assert extract_records({"rows": [{"x": 1}, 2]}, "rows") == [{"x": 1}, 2]


@pytest.mark.parametrize("doc, path, kind, words", [
    (DOC, "nope", "records_path", "not found; top-level keys: meta, rows"),
    ([1, 2], "x", "records_path", "the response is a list"),
    (DOC, "rows.0.s", "records_path", "leads to a text"),
    ({"rows": ["a", "b"]}, "rows", "not_objects", "list of text values"),
])
def test_extract_records_errors_say_what_and_where(doc, path, kind, words):
    """A wrong path or a list of non-objects raises ShapeError with kind and a readable reason."""
    with pytest.raises(ShapeError) as err:
        extract_records(doc, path)
    assert err.value.kind == kind and words in str(err.value)


def test_field_types_cast_values():
    """Types convert text to numbers, epoch ms/s to UTC ISO-8601, and keep 'any' values as is."""
    rec = {"f": "3.5", "i": "42", "b": "true", "ms": 1_700_000_000_123, "s": 1_700_000_000,
           "iso": "2026-01-02T03:04:05+01:00", "raw": [1, 2], "n": 7}
    out = mapped({"f": "f:float", "i": "i:int", "b": "b:bool", "ms": "ms:timestamp_ms",
                  "s": "s:timestamp_s", "iso": "iso:timestamp", "raw": "raw", "n": "n:str"},
                 [rec])
    assert out == [{"f": 3.5, "i": 42, "b": True, "ms": "2023-11-14T22:13:20.123Z",
                    "s": "2023-11-14T22:13:20.000Z", "iso": "2026-01-02T02:04:05.000Z",
                    "raw": [1, 2], "n": "7"}]


def test_uncastable_values_are_kept_raw_and_missing_paths_left_out():
    """An uncastable value stays as it came (validation names it); a missing path is omitted."""
    out = mapped({"v": "v:float", "i": "i:int", "b": "b:bool", "t": "t:timestamp",
                  "gone": "x.y:float", "nul": "z:float"},
                 [{"v": "abc", "i": 1.5, "b": "maybe", "t": "yesterday", "z": None}])
    assert out == [{"v": "abc", "i": 1.5, "b": "maybe", "t": "yesterday", "nul": None}]
    assert mapped({"v": "v:float"}, [{"v": True}]) == [{"v": True}]  # a bool is not a number
    odd = [{"s": "abc", "d": {"0": "zero"}, "l": [1], "n": {"x": 1}}]
    assert mapped({"a": "s.0", "b": "d.0", "c": "l.x", "e": "n.x.y", "f": "l.-1"}, odd) == \
        [{"b": "zero", "f": 1}]


def test_root_paths_fetch_time_and_utc_offset():
    """'$.' reads the document, '@fetched_at' is the poll time, utc_offset fixes naive times."""
    root = {"tz": 3600, "lat": "52.5", "current": {"time": "2026-01-02T10:00"}}
    out = mapped({"time": {"path": "time", "type": "timestamp", "utc_offset": "$.tz"},
                  "fixed": {"path": "time", "type": "timestamp", "utc_offset": -1800},
                  "lat": "$.lat:float", "at": "@fetched_at"},
                 [root["current"]], root, fetched_at=1_700_000_000.5)
    assert out == [{"time": "2026-01-02T09:00:00.000Z", "fixed": "2026-01-02T10:30:00.000Z",
                    "lat": 52.5, "at": "2023-11-14T22:13:20.500Z"}]


def test_non_objects_pass_through_and_no_fields_is_identity():
    """Non-object records pass untouched (validation rejects them); no field map changes nothing."""
    assert mapped({"v": "v"}, [1, {"v": 2}]) == [1, {"v": 2}]
    records = [{"a": 1}]
    assert RecordMapper(()).map(records, None, 0) is records


def test_parse_time_accepts_iso_and_epoch_forms():
    """ISO-8601 (Z, offsets, naive = UTC) and epoch seconds or milliseconds all parse."""
    assert parse_time("2023-11-14T22:13:20Z") == 1_700_000_000
    assert parse_time("2023-11-14T22:13:20") == 1_700_000_000
    assert parse_time(1_700_000_000_000) == 1_700_000_000
    assert parse_time("1700000000") == 1_700_000_000


@pytest.mark.parametrize("spec, key", [
    ({"a": "b:decimal"}, "source.fields.a.type"),
    ({"a": {"path": ""}}, "source.fields.a.path"),
    ({"a": {"path": "x", "color": 1}}, "source.fields.a.color"),
    ({"a": {"path": "x", "type": "float", "utc_offset": 5}}, "source.fields.a.utc_offset"),
    ({"a": {"path": "x", "type": "timestamp", "utc_offset": "soon"}}, "source.fields.a.utc_offset"),
    ({"a": 5}, "source.fields.a"),
    (["a:b"], "source.fields"),
    ("a=b", "source.fields"),
])
def test_bad_field_specs_name_their_key(spec, key):
    """Every malformed field spec is a ConfigError naming the exact key."""
    with pytest.raises(ConfigError) as err:
        parse_fields("source.fields", spec)
    assert err.value.key == key


def test_list_form_of_fields():
    """The flag form 'name=path:type' parses like the mapping form."""
    (spec,) = parse_fields("f", ["price = data.amount:float"])
    assert (spec.name, spec.path, spec.type, spec.text()) == \
        ("price", "data.amount", "float", "data.amount:float")
