"""The transformation rules, each on its own."""

from __future__ import annotations

import pytest

from streamdash.errors import ConfigError
from streamdash.pipeline.expr import Expression
from streamdash.pipeline.transforms import (
    UNITS,
    BatchContext,
    Convert,
    Dedup,
    Derive,
    Filter,
    Late,
    Outlier,
    Watermark,
    column,
    conditions,
    converter,
)


def run(rule, records, times=None):
    ctx = BatchContext()
    out, out_t = rule(records, list(times) if times is not None else [0.0] * len(records), ctx)
    return out, out_t, ctx.counts


def test_column_handles_missing_fields():
    """column() reads a field from every record, None where it is missing."""
    assert column([{"a": 1}, {"a": 2}], "a") == [1, 2]
    assert column([{"a": 1}, {}], "a") == [1, None]


def test_dedup_keeps_the_first_and_counts_repeats():
    """Repeated keys (also within one batch) are dropped and counted; keyless records pass."""
    d = Dedup("id")
    recs = [{"id": "a"}, {"id": "b"}, {"id": "a"}, {}, {"id": None}]
    out, times, counts = run(d, recs, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert out == [{"id": "a"}, {"id": "b"}, {}, {"id": None}] and times == [1.0, 2.0, 4.0, 5.0]
    assert counts["duplicate"] == 1
    out, _, counts = run(d, [{"id": "b"}, {"id": "c"}], [6.0, 7.0])
    assert out == [{"id": "c"}] and counts["duplicate"] == 1
    assert d.stats() == {"duplicates": 2, "keys": 3, "evicted": 0}


def test_dedup_on_several_fields_keeps_each_version_of_a_record():
    """With key (id, updated) a record whose updated time changed is kept again; a missing or
    null first field makes the record keyless (never a duplicate)."""
    d = Dedup(("id", "updated"))
    recs = [{"id": "q1", "updated": 1}, {"id": "q1", "updated": 1}, {"id": "q1", "updated": 2},
            {"id": "q1"}, {"id": "q1", "updated": None}, {"id": None, "updated": 1},
            {"id": None, "updated": 1}]
    out, _, counts = run(d, [dict(r) for r in recs], [float(i) for i in range(7)])
    assert out == [recs[0], recs[2], recs[3], recs[5], recs[6]] and counts["duplicate"] == 2
    assert Dedup(("id",)).key == "id"


def test_dedup_forgets_keys_after_the_ttl_of_event_time():
    """Keys older than the TTL (in event time) expire, so memory stays bounded."""
    d = Dedup("id", ttl=600)
    run(d, [{"id": "old"}], [1000.0])
    run(d, [{"id": "x"}], [1500.0])
    assert "old" in d.seen
    run(d, [{"id": "y"}], [1700.0])       # 1000 < 1700 - 600: the first batch expires
    assert "old" not in d.seen
    out, _, counts = run(d, [{"id": "old"}], [1701.0])
    assert out and counts["duplicate"] == 0


def test_dedup_hard_cap_evicts_oldest_keys():
    """max_keys caps memory even within the TTL; keys forgotten early are counted."""
    d = Dedup("id", ttl=10_000, max_keys=3)
    for i in range(5):
        run(d, [{"id": i}], [float(i)])
    assert len(d.seen) <= 3 and d.evicted >= 2


def test_dedup_without_event_time_uses_the_clock():
    """Without event times the TTL runs on the injected processing clock."""
    now = [0.0]
    d = Dedup("id", ttl=10, clock=lambda: now[0])
    d([{"id": 1}], [None], BatchContext())
    now[0] = 100.0
    d([{"id": 2}], [None], BatchContext())
    assert 1 not in d.seen


@pytest.mark.parametrize("cond,expected", [
    ({"field": "v", "op": "gt", "value": 1}, [2, 3]),
    ({"field": "v", "op": ">=", "value": 2}, [2, 3]),
    ({"field": "v", "op": "eq", "value": 1}, [1]),
    ({"field": "v", "op": "ne", "value": 1}, [2, 3, "x"]),
    ({"field": "v", "op": "in", "value": [1, 3]}, [1, 3]),
    ({"field": "v", "op": "not_in", "value": [1, 3]}, [2, "x"]),
    ({"field": "v", "op": "lt", "value": 3}, [1, 2]),         # "x" < 3 is false, not an error
    ({"field": "v", "op": "matches", "value": "^x"}, ["x"]),
    ({"field": "v", "op": "exists"}, [1, 2, 3, "x", None]),
    ({"field": "v", "op": "null"}, [None]),
    ({"field": "v", "op": "not_null"}, [1, 2, 3, "x"]),
    ([{"field": "v", "op": "ge", "value": 2}, {"field": "v", "op": "le", "value": 2}], [2]),
    ({"any": [{"field": "v", "op": "eq", "value": 1}, {"field": "v", "op": "eq", "value": "x"}]},
     [1, "x"]),
])
def test_filter_conditions(cond, expected):
    """Filter keeps records matching the condition(s) and counts the rest as filtered."""
    recs = [{"v": 1}, {"v": 2}, {"v": 3}, {"v": "x"}, {"v": None}, {}]
    out, times, counts = run(Filter(conditions(cond, "transforms[0].filter")), recs)
    assert [r["v"] for r in out] == expected and len(times) == len(out)
    assert counts["filtered"] == len(recs) - len(expected)


def test_missing_operator_value_and_unknown_operator_are_config_errors():
    """Bad conditions raise ConfigError naming the key."""
    for cond, key in (({"field": "v", "op": "near", "value": 1}, "f.op"),
                      ({"field": "v", "op": "gt"}, "f.value"),
                      ({"op": "gt", "value": 1}, "f.field"),
                      ({"field": "v", "op": "in", "value": 1}, "f.value"),
                      ({"field": "v", "op": "matches", "value": "("}, "f.value"),
                      ({"field": "v", "x": 1}, "f.x"), ({"any": []}, "f.any"), ("v>1", "f")):
        with pytest.raises(ConfigError) as err:
            conditions(cond, "f")
        assert err.value.key == key


def test_derive_sets_a_field_from_an_expression():
    """Derive computes a new field; null inputs give null; arithmetic errors are counted."""
    d = Derive("ratio", Expression("a / b"))
    recs = [{"a": 1, "b": 2}, {"a": 1, "b": 0}, {"a": None, "b": 1}]
    out, _, _ = run(d, recs)
    assert [r["ratio"] for r in out] == [0.5, None, None]
    assert d.stats() == {"derived": 3, "errors": 1}


def test_derive_when_condition():
    """Derive with `when` only touches matching records."""
    d = Derive("v", Expression("(v - 32) * 5 / 9"),
               when=conditions({"field": "unit", "op": "eq", "value": "F"}, "w"))
    out, _, _ = run(d, [{"v": 212, "unit": "F"}, {"v": 20, "unit": "C"}])
    assert [r["v"] for r in out] == [100.0, 20]


def test_convert_fahrenheit_to_celsius():
    """Convert turns °F values into °C with the textbook formula and sets the unit."""
    c = Convert("value", "unit", "C")
    recs = [{"value": 212.0, "unit": "F"}, {"value": 20.0, "unit": "C"},
            {"value": None, "unit": "F"}, {"value": 5.0, "unit": "furlongs"}, {"value": 1.0}]
    out, _, _ = run(c, recs)
    assert out[0] == {"value": (212.0 - 32) * 5 / 9, "unit": "C"}
    assert out[1] == {"value": 20.0, "unit": "C"} and out[2]["value"] is None
    assert out[3] == {"value": 5.0, "unit": "furlongs"}
    assert c.stats() == {"converted": 1, "unconverted": 2}


def test_unit_table_round_trips():
    """Every conversion and its inverse give back the value; dimensions must match."""
    for unit, (dim, _, _) in UNITS.items():
        for other, (dim2, _, _) in UNITS.items():
            if dim == dim2:
                assert converter(other, unit)(converter(unit, other)(12.5)) == pytest.approx(12.5)
    assert converter("K", "F")(273.15) == pytest.approx(32.0)
    with pytest.raises(ValueError):
        converter("C", "m")
    with pytest.raises(ConfigError):
        Convert("v", "u", "parsec")


def test_outlier_flags_without_dropping():
    """A value far from its key's rolling mean is flagged; records are never dropped."""
    o = Outlier("v", "k", window=50, threshold=3.0, min_count=10, z_field="z")
    recs = [{"k": "a", "v": 20.0 + (i % 5) * 0.1} for i in range(30)]
    recs += [{"k": "a", "v": 60.0}, {"k": "b", "v": 60.0}, {"k": "a", "v": None}]
    out, _, counts = run(o, recs)
    assert len(out) == len(recs) and sum(counts.values()) == 0
    assert out[30]["outlier"] is True and out[30]["z"] > 3
    assert out[31]["outlier"] is False          # key b has no history yet
    assert "outlier" not in out[32]            # null value: not scored
    assert not any(r["outlier"] for r in out[:30])
    assert o.stats()["flagged"] == 1


def test_outlier_window_rolls_and_constant_series():
    """Old values leave the window; a constant series flags any change."""
    o = Outlier("v", None, window=10, threshold=3.0, min_count=5)
    for _ in range(100):
        assert o.score(None, 5.0) in (None, 0.0)
    assert len(o.state[None].values) == 10
    assert o.score(None, 6.0) == float("inf")


def run_batch(rule, records, times):
    """One batch through ``rule`` including its end of batch (where the watermark moves)."""
    ctx = BatchContext()
    out, out_t = rule(records, list(times), ctx)
    rule.end_batch(ctx)
    return out, out_t, ctx.counts


def test_late_judges_a_batch_against_the_watermark_known_before_it():
    """Inside one batch nothing is late against the batch's own newest record; the watermark
    moves to that newest time only after the batch."""
    got = []
    late = Late(Watermark(30.0), sink=got.extend)
    recs = [{"i": i} for i in range(5)]
    out, times, counts = run_batch(late, recs, [140.0, 131.0, 100.0, 101.0, 60.0])
    assert [r["i"] for r in out] == [0, 1, 2, 3, 4] and counts["late"] == 0
    assert late.watermark.max_time == 140.0 and late.watermark.value == 110.0
    # the next batch is judged against 140 − 30 = 110: 109 is late (strictly older), 110 not
    out, times, counts = run_batch(late, [{"i": 5}, {"i": 6}, {"i": 7}], [109.0, 110.0, 150.0])
    assert [r["i"] for r in out] == [6, 7] and times == [110.0, 150.0]
    assert counts["late"] == 1 and late.watermark.max_time == 150.0
    assert got == [{"at": "1970-01-01T00:00:00.000Z", "record": {"i": 5},
                    "event_time": "1970-01-01T00:01:49.000Z",
                    "watermark": "1970-01-01T00:01:50.000Z", "lateness_s": 1.0, "source": ""}]
    assert late.stats()["late"] == 1 and late.stats()["watermark"].endswith("Z")


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]])
def test_the_order_inside_a_batch_never_changes_the_outcome(order):
    """The same batch in any order gives the same late and kept records and the same
    watermark (a snapshot feed listing its newest record first loses nothing)."""
    late = Late(Watermark(30.0))
    run_batch(late, [{"t": 1000.0}], [1000.0])   # watermark 970 for the next batch
    times = [1060.0, 1000.0, 975.0, 965.0]        # 965 is genuinely late, the rest are not
    recs = [{"t": times[i]} for i in order]
    out, _, counts = run_batch(late, recs, [r["t"] for r in recs])
    assert sorted(r["t"] for r in out) == [975.0, 1000.0, 1060.0] and counts["late"] == 1
    assert late.watermark.value == 1030.0


def test_a_genuinely_late_record_in_a_later_batch_is_still_late():
    """A record older than the newest time of an earlier batch minus the lateness is late,
    wherever it sits in its own batch."""
    got = []
    late = Late(Watermark(30.0), sink=got.extend)
    run_batch(late, [{"i": 0}, {"i": 1}], [500.0, 400.0])
    out, _, counts = run_batch(late, [{"i": 2}, {"i": 3}, {"i": 4}], [469.0, 600.0, 470.0])
    assert [r["i"] for r in out] == [3, 4] and counts["late"] == 1
    assert got[0]["record"] == {"i": 2} and got[0]["lateness_s"] == 1.0


def test_late_per_record_advance_follows_the_contract():
    """With advance=record the watermark moves after every record (CONTRACT.md's rule): a
    record behind an earlier record of the same batch is late."""
    got = []
    late = Late(Watermark(30.0), sink=got.extend, advance="record")
    recs = [{"i": i} for i in range(5)]
    out, times, counts = run_batch(late, recs, [100.0, 131.0, 100.0, 101.0, 140.0])
    # watermark after 131 is 101: 100 is late (strictly older), 101 is not
    assert [r["i"] for r in out] == [0, 1, 3, 4] and times == [100.0, 131.0, 101.0, 140.0]
    assert counts["late"] == 1 and late.watermark.max_time == 140.0
    assert got[0]["record"] == {"i": 2} and got[0]["lateness_s"] == 1.0
    out, _, counts = run_batch(late, [{"i": 9}], [200.0])
    assert out == [{"i": 9}] and counts["late"] == 0


def test_late_advance_must_be_batch_or_record():
    """An unknown advance mode is a ConfigError naming it."""
    with pytest.raises(ConfigError, match="late.advance"):
        Late(Watermark(), advance="chunk")
