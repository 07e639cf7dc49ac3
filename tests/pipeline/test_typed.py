"""The typed decoder of raw lines: exactly the outcome of orjson and the full checks."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamdash.config import Settings
from streamdash.models import Batch
from streamdash.pipeline import build_processor
from streamdash.pipeline.jsonl import Unparsed
from streamdash.pipeline.schema import schema_from_settings
from streamdash.pipeline.typed import typed_decoder
from streamdash.pipeline.validator import Validator

from .test_processor import BATCH_WATERMARK, CONTRACT, HINTS
from .workload import generate


def rich(unknown: str) -> dict:
    """A schema using every rule the typed decoder has to get right, and the contract chain."""
    return {"schema": {
        "key": "id", "event_time": "ts", "unknown": unknown,
        "fields": {"id": "str",
                   "sensor": {"type": "str", "pattern": r"sensor-\d+"},
                   "ts": {"type": "timestamp", "min": "2020-01-01T00:00:00Z"},
                   "value": {"type": "float", "nullable": True, "min": -50, "max": 150},
                   "unit": {"type": "str", "allowed": ["C", "F"]},
                   "count": {"type": "int", "required": False, "min": 0},
                   "ok": {"type": "bool", "required": False, "allowed": [True]},
                   "note": {"type": "str", "required": False, "nullable": True,
                            "max_length": 5},
                   "class": {"type": "scalar", "required": False, "nullable": True},
                   "we ird": {"type": "str", "required": False, "allowed": ["a", 1]}}},
        "transforms": [{"dedup": {"key": ["id", "count"]}},
                       {"convert": {"field": "value", "unit_field": "unit", "to": "C"}},
                       {"late": {"lateness": 30}},
                       {"window": {"size": 10, "key": "sensor", "field": "value"}}]}


CONFIGS = {"contract": CONTRACT, "batch": BATCH_WATERMARK, "keep": rich("keep"),
           "drop": rich("drop"), "reject": rich("reject")}

#: JSON texts (valid and not) for any value: every type, the integer and float edges where
#: orjson and msgspec differ, escapes, timestamps of every shape, broken values.
VALUES = [
    '"a"', '"C"', '"F"', '"c"', '"sensor-1"', '"sensor-12x"', '""', '"abcdef"', '"\\u0043"',
    '"\\ud800"', '"\\ud83d\\ude00"', '"\\""', '"a\\\\"', '"é"', '"tab\there"', '"\\u0000"',
    '"2024-06-01T00:00:01.250Z"', '"2024-06-01T00:00:05.000Z"', '"2024-06-01T00:00:01Z"',
    '"2024-06-01T00:00:01"', '"2024-06-01T00:00:01.25Z"', '"2024-06-01T00:01:00+01:00"',
    '"2019-12-31T23:59:59.000Z"', '"not-a-time"', '"2024-06-01T00:00:0\u0661.250Z"',
    '1717200001', '1717200001.5', '1717200001250', '0', '-0', '1', '-1', '151', '-51',
    '21.5', '-0.0', '1.0', '1E2', '2e1', '1e-400', '1e400', '-1e400',
    '9223372036854775807', '9223372036854775808', '18446744073709551615',
    '18446744073709551616', '-9223372036854775808', '-9223372036854775809',
    '123456789012345678901234567890', 'true', 'false', 'null', '[]', '[1,"a"]', '{}',
    '{"a":[1,{"b":null}]}', '01', '1.', '.5', 'NaN', 'Infinity', 'tru', '"unterminated',
]
value_texts = st.one_of(
    st.sampled_from(VALUES),
    st.text(max_size=8).map(json.dumps),
    st.text(max_size=8).map(lambda s: json.dumps(s, ensure_ascii=False)),
    st.integers(-2**70, 2**70).map(str),
    st.floats().map(repr), st.floats(-200, 200).map(lambda f: f"{f:.3e}"),
)
KEYS = ["id", "sensor", "ts", "value", "unit", "count", "ok", "note", "class", "we ird",
        "extra", "ID", "\\u0069d", "v\\u0061lue"]
#: Values each field accepts (and some it refuses: an int for ``we ird`` …).
GOOD = {"id": ['"a"', '"b"', '"c"', '"\\u0041"'], "sensor": ['"sensor-1"', '"sensor-22"'],
        "value": ["21.5", "1", "-0.0", "null", "150", "1E2", "-40"], "unit": ['"C"', '"F"'],
        "count": ["0", "3"], "ok": ["true"], "note": ['"ab"', "null"],
        "class": ['"x"', "1", "2.5", "true", "null"], "we ird": ['"a"', "1", '"b"']}
times = st.builds(lambda s, ms, form: form.format(s // 60, s % 60, ms),
                  st.integers(0, 300), st.integers(0, 999),
                  st.sampled_from(['"2024-06-01T00:{:02d}:{:02d}.{:03d}Z"'] * 4 +
                                  ['"2024-06-01T00:{:02d}:{:02d}.{:03d}+00:00"',
                                   '"2024-06-01 00:{:02d}:{:02d}.{:03d}"']))
SPACE = st.sampled_from(["", "", "", "", " ", "\t", "\n", "\r"])  # JSON's whitespace


@st.composite
def lines(draw) -> bytes:
    """One raw line: mostly a record of the schemas' fields with some values, keys and
    spacing spoilt (repeated, unknown or escaped keys, any JSON text as a value, a cut), or
    something that is not an object at all."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.sampled_from([b"", b"[1]", b"1", b'"s"', b"null", b"{", b"{}",
                                     b'{"id":"x"}{"id":"y"}', b"\xff\xfe", b'{"id":"\xff"}']))
    entries = [(k, draw(st.sampled_from(v))) for k, v in GOOD.items()
               if k in ("id", "sensor", "value", "unit") or draw(st.integers(0, 3)) == 0]
    entries.insert(draw(st.integers(0, len(entries))), ("ts", draw(times)))
    for _ in range(draw(st.sampled_from([0, 0, 1, 2, 3]))):
        i = draw(st.integers(0, len(entries)))
        change = draw(st.sampled_from(["value", "add", "drop", "repeat"]))
        if change == "value" and i < len(entries):
            entries[i] = (entries[i][0], draw(value_texts))
        elif change == "add":
            entries.insert(i, (draw(st.sampled_from(KEYS)), draw(value_texts)))
        elif change == "drop" and i < len(entries):
            del entries[i]
        elif change == "repeat" and i < len(entries):
            entries.append((entries[i][0], draw(st.one_of(value_texts, st.just(entries[i][1])))))
    entries = draw(st.permutations(entries)) if draw(st.booleans()) else entries
    parts = [f'{draw(SPACE)}"{k}"{draw(SPACE)}:{draw(SPACE)}{v}{draw(SPACE)}' for k, v in entries]
    if parts and draw(st.integers(0, 9)) == 0:  # not JSON's whitespace, or trailing text
        i = draw(st.integers(0, len(parts) - 1))
        parts[i] += draw(st.sampled_from(["\x0b", "\xa0", "\x00", "}", " x"]))
    text = "{" + ",".join(parts) + "}" + draw(st.sampled_from(["", "\n", "\r\n", " "]))
    raw = text.encode("utf-8", "surrogatepass")
    return raw if draw(st.integers(0, 19)) else raw[:draw(st.integers(0, len(raw)))]


def strict(x):
    """``x`` comparable exactly: types and float spellings count, dict key order does not."""
    if isinstance(x, Unparsed):
        return ("Unparsed", x.text)
    if isinstance(x, dict):
        return ("dict", sorted(((k, strict(v)) for k, v in x.items()), key=lambda kv: kv[0]))
    if isinstance(x, list):
        return ("list", [strict(v) for v in x])
    return (type(x).__name__, repr(x))


def run(cfg: dict, batches: list[list], typed: bool) -> tuple:
    """Every observable outcome of feeding ``batches`` to the processor of ``cfg``."""
    published = []

    def publish(topic, payload):
        # Items one by one: the typed path publishes a batch's late records in one call,
        # the orjson path one call per chunk; subscribers see the same items in order.
        published.extend((topic, strict(item)) for item in
                         (payload if isinstance(payload, list) else [payload]))

    proc = build_processor(Settings(cfg), HINTS, clock=lambda: 1_764_198_000.0,
                           publish=publish, typed=typed)
    assert (proc.validator.typed is not None) == typed
    out = []
    for records in batches:
        r = proc.process(records, Batch(records, 0.0, "test"))
        out.append(([strict(a) for a in r.accepted],
                    [(strict(x.record), x.reasons) for x in r.rejected], r.counts, r.nulls))
    proc.flush()
    return out, published, proc.stats()


@pytest.mark.parametrize("name", list(CONFIGS))
@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(lines(), min_size=1, max_size=12), max_size=4),
       st.sampled_from([None, {"id": "x"}, '{"id": "s"}']))
def test_typed_and_exact_decoding_agree_on_any_lines(name, batches, other):
    """For any raw lines (valid, invalid, not JSON, and an already decoded record or a str
    line among them), the typed decoder gives exactly the orjson path's accepted records,
    rejections with their reasons, counts, nulls, windows, late records and rule stats."""
    if other is not None and batches:
        batches[-1].append(other)
    assert run(CONFIGS[name], batches, True) == run(CONFIGS[name], batches, False)


def test_contract_lines_go_the_typed_way_with_the_same_outcome():
    """On the contract workload nearly every line is decoded by msgspec, and the outcome,
    down to the windows and the quarantine, is the orjson path's."""
    raw = generate(3000)
    batches = [raw[i:i + 1000] + [b"{broken"] for i in range(0, len(raw), 1000)]
    typed = typed_decoder(schema_from_settings(CONTRACT["schema"]))
    decoded = 0
    for line in raw:
        try:
            typed.decode(line)
            decoded += 1
        except ValueError:
            pass
    assert decoded >= 0.99 * len(raw)
    assert run(CONTRACT, batches, True) == run(CONTRACT, batches, False)


def test_records_keep_orjson_values_and_the_schema_order():
    """Ints stay ints in float fields, missing optional fields stay missing, awkward names
    work, a non-canonical time is rewritten, and the dict lists the schema's fields."""
    cfg = rich("keep")
    v = Validator(schema_from_settings(cfg["schema"]))
    line = (b'{"unit":"C","we ird":"a","value":7,"sensor":"sensor-2","class":true,'
            b'"ts":"2024-06-01T00:00:01","id":"a"}')
    ok, times, bad, nulls = v.run_lines([line])
    assert not bad and times == [1717200001.0]
    assert list(ok[0].items()) == [("id", "a"), ("sensor", "sensor-2"),
                                   ("ts", "2024-06-01T00:00:01.000Z"), ("value", 7),
                                   ("unit", "C"), ("class", True), ("we ird", "a")]
    assert type(ok[0]["value"]) is int


@pytest.mark.parametrize("line,field,rule", [
    (b'{"id":"a","sensor":"sensor-1","ts":"2024-06-01T00:00:01Z","value":null,"unit":"C",'
     b'"extra":1e400}', None, "json"),                       # orjson refuses; msgspec skips
    (b'{"id":"a","sensor":"sensor-1","ts":"2024-06-01T00:00:01Z","value":1,"unit":"C",'
     b'"count":18446744073709551615}', "count", "max"),     # not an int64, but an int
    (b'{"id":"a","sensor":"sensor-1","ts":"2024-06-01T00:00:01Z","value":1,"unit":"K"}',
     "unit", "allowed"),
    (b'{"id":"a","sensor":"sensor-1x","ts":"2024-06-01T00:00:01Z","value":1,"unit":"C"}',
     "sensor", "pattern"),
])
def test_rejections_name_what_the_exact_path_names(line, field, rule):
    """A line the typed decoder refuses, or accepts and a residual check then fails, is
    quarantined decoded by orjson with the exact reasons (count is bounded by max here)."""
    cfg = rich("reject")
    cfg["schema"]["fields"]["count"] = {"type": "int", "required": False, "max": 10}
    v = Validator(schema_from_settings(cfg["schema"]))
    ok, _, bad, _ = v.run_lines([line])
    assert not ok and [(r["field"], r["rule"]) for r in v.reasons(bad[0])] == [(field, rule)]


def test_unknown_fields_are_kept_dropped_or_rejected():
    """A line with an undeclared field is refused by the typed decoder and then kept whole,
    stripped or rejected as the policy says."""
    line = b'{"id":"a","sensor":"sensor-1","ts":"2024-06-01T00:00:01Z","value":1,"unit":"C",' \
           b'"extra":[1]}'
    got = {}
    for policy in ("keep", "drop", "reject"):
        ok, _, bad, _ = Validator(schema_from_settings(rich(policy)["schema"])).run_lines([line])
        got[policy] = (ok[0] if ok else None, len(bad))
    assert got["keep"][0]["extra"] == [1] and "extra" not in got["drop"][0]
    assert got["reject"] == (None, 1)


def test_what_the_typed_decoder_cannot_express_goes_the_exact_way():
    """An ``any`` field, or a fused rule writing a field the schema does not declare, means
    no typed decoding; the lines are still decoded and checked."""
    with_any = schema_from_settings({"fields": {"id": "str", "payload": "any"}})
    assert typed_decoder(with_any) is None
    v = Validator(with_any)
    assert v.run_lines([b'{"id":"a","payload":{"x":1}}'])[0] == [{"id": "a", "payload": {"x": 1}}]
    cfg = {"schema": {"fields": {"id": "str", "t": "float"}},
           "transforms": [{"convert": {"field": "t", "unit_field": "u", "to": "C"}}]}
    proc = build_processor(Settings(cfg), HINTS)
    assert proc.validator.typed is None
    r = proc.process([b'{"id":"a","t":50,"u":"F"}'], Batch([], 0.0, "test"))
    assert r.accepted == [{"id": "a", "t": 10.0, "u": "C"}]
