"""The late rule: the watermark known before a batch, or moving per record."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamdash.errors import ConfigError
from streamdash.pipeline.rules import Late, Watermark

from .harness import restored, run_batch


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


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.floats(0, 500), max_size=6), max_size=8), st.integers(0, 8),
       st.sampled_from(["batch", "record"]))
def test_a_restored_late_rule_judges_every_later_batch_as_the_original(batches, split, advance):
    """restore(export(late)) through JSON sets aside exactly what the original does, in both
    advance modes, and the watermark reads the same (also before any record: "none yet")."""
    def make():
        return Late(Watermark(30.0), advance=advance)

    original = make()
    for times in batches[:split]:
        run_batch(original, [{"t": t} for t in times], times)
    copy = restored(make, original)
    assert copy.watermark.value == original.watermark.value
    for times in batches[split:]:
        assert run_batch(copy, [{"t": t} for t in times], times) == \
            run_batch(original, [{"t": t} for t in times], times)
    assert copy.stats()["watermark"] == original.stats()["watermark"]


def test_a_late_rule_refuses_a_watermark_that_is_not_a_time():
    """A saved max_time that is not a number (or a bool) is refused, the watermark unchanged."""
    late = Late(Watermark(30.0))
    run_batch(late, [{}], [100.0])
    for bad in ("100", True, [1]):
        with pytest.raises(ValueError, match="late.max_time"):
            late.restore_state({"max_time": bad})
    assert late.watermark.max_time == 100.0
    late.restore_state({"max_time": None})
    assert late.watermark.max_time == -math.inf
