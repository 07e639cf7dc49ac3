"""Event-time windows: tumbling, sliding, watermark, idle timeout and flush."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamdash.errors import ConfigError
from streamdash.pipeline.rules import BatchContext, Watermark, Windows
from streamdash.pipeline.rules.window import aggregate

from .harness import restored, through_json

T0 = 1717200000.0  # 2024-06-01T00:00:00Z, a multiple of 10 s


def make(**kw):
    out = []
    wm = Watermark(30.0)
    w = Windows("v", "k", wm, sink=out.extend, advance_watermark=True, **kw)
    return w, wm, out


def feed(w, pairs, mono=0.0):
    recs = [{"k": k, "v": v} for k, v, _ in pairs]
    ctx = BatchContext(mono=mono)
    out = w(recs, [t for _, _, t in pairs], ctx)
    w.end_batch(ctx)  # windows close at the end of a batch
    return out


def test_tumbling_windows_emit_when_the_watermark_passes():
    """A window is emitted once max event time − lateness reaches its end, with aggregates."""
    w, wm, out = make(size=10)
    feed(w, [("a", float(v), T0 + i) for i, v in enumerate(range(1, 21))])  # 20 values in 0–19 s
    feed(w, [("b", 5.0, T0 + 3)])
    assert out == []
    feed(w, [("a", 0.0, T0 + 40)])      # watermark T0 + 10: the first window closes
    assert [(o["key"], o["count"]) for o in out] == [("a", 10), ("b", 1)]
    a = out[0]
    assert a["start"] == "2024-06-01T00:00:00.000Z" and a["end"] == "2024-06-01T00:00:10.000Z"
    assert (a["min"], a["max"], a["mean"], a["p95"]) == (1.0, 10.0, 5.5, 10.0)
    assert a["closed_by"] == "watermark"
    feed(w, [("a", 0.0, T0 + 50)])
    assert [o["count"] for o in out][2:] == [10]
    assert w.flush() == 2 and out[-1]["closed_by"] == "flush"
    assert w.stats() == {"emitted": 5, "open": 0, "skipped": 0}


def test_nulls_and_non_numbers_are_not_aggregated():
    """Null and non-numeric values do not enter windows; they are counted as skipped."""
    w, _, out = make(size=10)
    feed(w, [("a", None, T0), ("a", 2.0, T0 + 1)])
    w([{"k": "a", "v": "x"}, {"k": "a", "v": True}], [T0 + 2, T0 + 3], BatchContext())
    w.flush()
    assert out[0]["count"] == 1 and w.stats()["skipped"] == 3
    s, _, _ = make(size=10, slide=5)
    feed(s, [("a", None, T0), ("a", 1.0, T0 + 1)])
    assert s.stats()["skipped"] == 1


def test_sliding_windows_count_each_value_in_every_window():
    """A sliding window of size 10 and slide 5 puts each value in two windows."""
    w, _, out = make(size=10, slide=5)
    feed(w, [("a", 1.0, T0 + 7)])
    w.flush()
    assert sorted(o["start"] for o in out) == ["2024-06-01T00:00:00.000Z",
                                                "2024-06-01T00:00:05.000Z"]


def test_idle_timeout_closes_windows_in_processing_time():
    """When nothing arrives for idle_timeout seconds, open windows are emitted."""
    w, _, out = make(size=10, idle_timeout=5)
    feed(w, [("a", 1.0, T0)], mono=100.0)
    assert w.tick(104.0) == 0 and out == []
    assert w.tick(105.0) == 1 and out[0]["closed_by"] == "idle"
    assert w.tick(200.0) == 0


def test_window_settings_are_checked():
    """size, slide must be positive and slide must divide size."""
    for kw in ({"size": 0}, {"size": 10, "slide": 3}, {"size": 10, "slide": 20},
               {"size": 10, "slide": -1}):
        with pytest.raises(ConfigError):
            Windows("v", "k", Watermark(), **kw)


def sorted_aggregate(values):
    """The aggregates as defined: from the sorted values."""
    ordered = sorted(values)
    return ordered[0], ordered[-1], ordered[max(0, math.ceil(0.95 * len(values)) - 1)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.integers(-3, 3), st.floats(-3, 3), st.sampled_from(
    [0, 0.0, -0.0, 1, 1.0, math.inf, -math.inf, math.nan])), min_size=1, max_size=45))
def test_aggregates_are_those_of_the_sorted_values(values):
    """min, max and p95 are the very objects sorting gives (1 and 1.0, -0.0 and 0.0 told
    apart; NaN and infinities included), whether or not a sort was needed."""
    low, high, p95, total = aggregate(values)
    assert [(type(x), repr(x)) for x in (low, high, p95)] == \
        [(type(x), repr(x)) for x in sorted_aggregate(values)]
    assert repr(total) == repr(sum(values))


POINTS = st.lists(st.tuples(st.sampled_from(["a", "b", None, 3]),
                            st.floats(-1e6, 1e6, allow_nan=False),
                            st.floats(0, 120).map(lambda x: T0 + x)), max_size=6)


@settings(max_examples=150, deadline=None)
@given(st.lists(POINTS, max_size=8), st.integers(0, 8), st.sampled_from([None, 5.0]))
def test_a_restored_window_emits_every_later_window_as_the_original(batches, split, slide):
    """restore(export(w)) through JSON holds the same open windows and emits exactly what the
    original does on every later batch and at the flush (tumbling and sliding, own
    watermark, keys of any scalar type)."""
    def make():
        out = []
        w = Windows("v", "k", Watermark(30.0), size=10, slide=slide, sink=out.extend,
                    advance_watermark=True)
        w.out = out
        return w

    original = make()
    for pairs in batches[:split]:
        feed(original, pairs)
    copy = restored(make, original)
    assert copy.open == original.open
    assert copy.watermark.max_time == original.watermark.max_time
    for pairs in batches[split:]:
        before = (len(copy.out), len(original.out))
        feed(copy, pairs)
        feed(original, pairs)
        assert copy.out[before[0]:] == original.out[before[1]:]
    before = (len(copy.out), len(original.out))
    assert copy.flush() == original.flush()
    assert copy.out[before[0]:] == original.out[before[1]:]


def test_non_finite_values_of_an_open_window_survive_the_trip():
    """NaN and ±inf (JSON has no number for them) come back as themselves."""
    w, _, _ = make(size=10)
    feed(w, [("a", math.inf, T0), ("a", -math.inf, T0 + 1), ("a", math.nan, T0 + 2),
             ("a", 1.5, T0 + 3)])
    state = through_json(w.export_state())
    assert state["open"][0][1][0][1] == ["inf", "-inf", "nan", 1.5]
    copy, _, _ = make(size=10)
    copy.restore_state(state)
    got = copy.open[T0]["a"]
    assert got[:2] == [math.inf, -math.inf] and math.isnan(got[2]) and got[3] == 1.5


def test_a_window_refuses_state_of_another_configuration_and_stays_as_it_was():
    """Another size or slide, a window that keeps its own watermark given a follower's
    state, bad shapes: ValueError naming it, the open windows unchanged."""
    w, _, _ = make(size=10)
    feed(w, [("a", 1.0, T0)])
    good = through_json(w.export_state())
    follower = Windows("v", "k", Watermark(30.0), size=10)
    hostile = [{**good, "size": 20.0}, {**good, "slide": 5.0}, {**good, "open": {}},
               {**good, "open": [[T0]]}, {**good, "open": [["x", []]]},
               {**good, "open": [[T0, [["a", []]]]]}, {**good, "open": [[T0, [["a", ["1"]]]]]},
               {**good, "open": [[T0, [[["a"], [1.0]]]]]}, {**good, "watermark": "late"}]
    for state in hostile:
        with pytest.raises(ValueError, match="window"):
            w.restore_state(state)
        assert w.open == {T0: {"a": [1.0]}}
    with pytest.raises(ValueError, match="own watermark"):
        follower.restore_state(good)


def test_a_restored_window_times_its_idle_timeout_from_the_first_tick():
    """A monotonic time means nothing in another process: the restored windows' idle time
    starts at the first idle tick after the restore."""
    w, _, _ = make(size=10, idle_timeout=5)
    feed(w, [("a", 1.0, T0)], mono=100.0)
    copy, _, out = make(size=10, idle_timeout=5)
    copy.restore_state(through_json(w.export_state()))
    assert copy.tick(1.0) == 0 and copy.tick(5.9) == 0 and out == []
    assert copy.tick(6.0) == 1 and out[0]["closed_by"] == "idle" and out[0]["count"] == 1
