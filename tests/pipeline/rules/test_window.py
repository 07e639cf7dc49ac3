"""Event-time windows: tumbling, sliding, watermark, idle timeout and flush."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamdash.errors import ConfigError
from streamdash.pipeline.rules import BatchContext, Watermark, Windows
from streamdash.pipeline.rules.window import aggregate

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
