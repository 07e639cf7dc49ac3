"""streamdash.quality.window: the quality metrics from counter samples and batch statistics."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamdash.quality.window import (
    BatchStats,
    QualityWindow,
    event_time,
    newest_event_time,
    null_counters,
    pick,
)

T0 = 1_700_000_000.0


def counters(**kw: float) -> dict[str, float]:
    """A full counter sample with the given values (others 0)."""
    return pick(kw)


def test_rates_are_computed_over_the_window_only():
    """Counts older than the window no longer weigh on the rates."""
    w = QualityWindow(window=10, baseline=0)
    w.add(T0, counters(), {})
    # 100 records with 50 duplicates in the first 10 s, then 100 clean records.
    w.add(T0 + 10, counters(records_in=100, records_accepted=50, records_duplicate=50), {})
    assert w.compute(T0 + 10)["duplicate_rate"] == 0.5
    w.add(T0 + 20, counters(records_in=200, records_accepted=150, records_duplicate=50), {})
    out = w.compute(T0 + 20)
    assert out["duplicate_rate"] == 0.0 and out["records"] == 100
    assert out["throughput"] == 10.0


def test_every_outcome_rate_uses_processed_records():
    """Duplicate, late, invalid and filtered rates divide by the records processed."""
    w = QualityWindow(window=60, baseline=0)
    w.add(T0, counters(), {})
    w.add(T0 + 5, counters(records_in=110, records_accepted=60, records_duplicate=10,
                           records_late=10, records_rejected=10, records_filtered=10,
                           records_dropped=11, fetches=3, fetch_errors=1), {})
    out = w.compute(T0 + 5)
    assert out["records"] == 100
    assert (out["duplicate_rate"], out["late_rate"], out["invalid_rate"],
            out["filtered_rate"]) == (0.1, 0.1, 0.1, 0.1)
    assert out["dropped_rate"] == 0.1 and out["fetch_error_rate"] == 0.25


def test_no_records_means_no_data():
    """With nothing processed in the window the rates are None (no data), not zero."""
    w = QualityWindow(window=10, baseline=0)
    w.add(T0, counters(records_in=5, records_accepted=5), {"accepted": 5, "null_records": 1})
    w.add(T0 + 20, counters(records_in=5, records_accepted=5), {"accepted": 5, "null_records": 1})
    out = w.compute(T0 + 20)
    assert out["null_rate"] is None and out["duplicate_rate"] is None
    assert out["fetch_error_rate"] is None and out["throughput"] == 0.0
    assert QualityWindow(5).compute(T0) == {}


def test_null_rates_overall_and_per_field():
    """null_rate counts records with any null; null_rate.<field> counts that field's nulls."""
    stats = BatchStats()
    stats.observe([{"a": None, "b": None}, {"a": None, "b": 1}, {"a": 1, "b": 2}, {"a": 2}])
    w = QualityWindow(window=10, baseline=0)
    w.add(T0, counters(), {})
    w.add(T0 + 1, counters(), null_counters(stats.snapshot()))
    out = w.compute(T0 + 1, fields=["c"])
    assert out["null_rate"] == 0.5
    assert out["null_rate.a"] == 0.5 and out["null_rate.b"] == 0.25
    assert out["null_rate.c"] == 0.0


def test_batch_stats_count_accepted_records_only():
    """Nulls are counted in the accepted records, whatever the chain reports for all valid ones."""
    stats = BatchStats()

    class Result:
        accepted = [{"a": None}, {"a": 1}]
        nulls = {"a": 5, "b": 2}  # the chain's count over valid records (duplicates too)

    stats(None, Result())
    snap = stats.snapshot()
    assert snap["nulls"] == {"a": 1} and snap["accepted"] == 2 and snap["null_records"] == 1


def test_freshness_event_age_and_fetch_age():
    """event_age is now minus the newest event time; fetch_age counts from the last success."""
    stats = BatchStats(time_field="ts")
    stats.observe([{"ts": "2023-11-14T22:13:10.000Z"}, {"ts": T0 - 5}, {"ts": "bad"}, "x",
                   {"ts": None}])
    newest = stats.snapshot()["newest_event"]
    assert newest == T0 - 5
    w = QualityWindow(window=10, baseline=0)
    w.add(T0, counters(), {})
    out = w.compute(T0 + 2, newest_event=newest, last_success=T0 - 1, watch_since=T0 - 100)
    assert out["event_age_seconds"] == 7.0 and out["fetch_age_seconds"] == 3.0
    # Before any success, the age counts from when watching began.
    out = w.compute(T0 + 2, watch_since=T0 - 100)
    assert out["fetch_age_seconds"] == 102.0 and out["event_age_seconds"] is None


def test_throughput_drop_against_trailing_baseline():
    """throughput_drop compares the window's rate with the baseline period before it."""
    w = QualityWindow(window=10, baseline=30)
    total = 0
    for i in range(0, 31, 5):  # 10 records/s for 30 s
        w.add(T0 + i, counters(records_in=total), {})
        total += 50
    assert w.compute(T0 + 30)["throughput_drop"] is not None
    total -= 50
    for i in range(35, 41, 5):  # then 2 records/s
        total += 10
        w.add(T0 + i, counters(records_in=total), {})
    out = w.compute(T0 + 40)
    assert out["throughput"] == pytest.approx(2.0)
    assert out["throughput_drop"] == pytest.approx(0.8)


def test_throughput_drop_needs_enough_history():
    """Without at least half a baseline of history before the window there is no drop value."""
    w = QualityWindow(window=10, baseline=60)
    w.add(T0, counters(), {})
    w.add(T0 + 15, counters(records_in=100), {})
    assert w.compute(T0 + 15)["throughput_drop"] is None


def test_old_samples_are_pruned_and_repeated_times_replace():
    """Samples beyond window + baseline are dropped; a repeated time replaces the last sample."""
    w = QualityWindow(window=10, baseline=10)
    for i in range(100):
        w.add(T0 + i, counters(records_in=i), {})
    assert len(w) <= 22
    w.add(T0 + 99, counters(records_in=1000), {})
    assert w.compute(T0 + 99)["throughput"] == pytest.approx((1000 - 89) / 10)
    with pytest.raises(ValueError):
        QualityWindow(0)


@pytest.mark.parametrize("value,expected", [
    ("2023-11-14T22:13:20.500Z", T0 + 0.5), ("2023-11-14T23:13:20+01:00", T0),
    ("2023-11-14T22:13:20", T0), (T0, T0), (int(T0 * 1000), T0), (str(T0), T0),
    (datetime.fromtimestamp(T0, tz=timezone.utc), T0), (datetime(2023, 11, 14, 22, 13, 20), T0),
    ("yesterday", None), (None, None), (True, None), (float("nan"), None), ([1], None),
])
def test_event_time_forms(value, expected):
    """Event times may be ISO-8601 text, epoch seconds or milliseconds, or datetimes."""
    assert event_time(value) == expected


def naive_newest(values):
    times = [t for t in map(event_time, values) if t is not None]
    return max(times) if times else None


CANONICAL = st.builds(lambda y, mo, d, h, mi, s, ms: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:"
                      f"{s:02d}.{ms:03d}Z", st.integers(0, 9999), st.integers(0, 13),
                      st.integers(0, 32), st.integers(0, 25), st.integers(0, 60),
                      st.integers(0, 61), st.integers(0, 999))
EVENT_VALUES = st.one_of(CANONICAL, CANONICAL.map(lambda v: v.replace("Z", "+01:00")),
                         CANONICAL.map(lambda v: v[:10] + "\n" + v[11:]),
                         CANONICAL.map(lambda v: v.replace("1", "\u0661")),
                         st.text(max_size=30), st.none(), st.booleans(),
                         st.floats(allow_nan=True), st.integers(-10**13, 10**13))


@settings(max_examples=300, deadline=None)
@given(values=st.lists(EVENT_VALUES, max_size=12))
def test_newest_event_time_equals_parsing_every_value(values):
    """The fast newest-time path gives exactly the maximum of parsing every value."""
    assert newest_event_time(values) == naive_newest(values)


def test_newest_event_time_shapes():
    """Canonical strings parse one value; a non-date maximum or mixed forms still give the
    true newest; nothing parseable gives None."""
    assert newest_event_time(["2024-05-31T23:59:57.397Z", "2024-06-01T00:00:00.001Z",
                              "2024-05-31T12:00:00.000Z"]) == 1717200000.001
    # The lexicographic maximum is not a date (month 13): the others decide.
    assert newest_event_time(["2024-13-01T00:00:00.000Z", "2024-05-31T00:00:00.000Z"]) \
        == event_time("2024-05-31T00:00:00.000Z")
    # A value holding a newline joins like two canonical values but is one invalid value.
    assert newest_event_time(["2024-05-31T00:00:00.000Z\n2030-01-01T00:00:00.000Z"]) is None
    assert newest_event_time([1717200000, "2024-05-31T00:00:00.000Z", None]) == 1717200000.0
    assert newest_event_time([None, "x", True]) is None
    assert newest_event_time([]) is None


def test_batch_stats_counts_match_a_plain_walk():
    """Null counts and newest time equal walking every field of every dict record."""

    class EqualsAll:
        def __eq__(self, other):
            return True

        __hash__ = object.__hash__

    records = [{"ts": "2024-05-31T00:00:01.000Z", "a": None, "b": None},
               {"ts": "2024-05-31T00:00:03.000Z", "a": EqualsAll()}, "not a dict",
               {"ts": None, "c": None}, {"ts": "2024-05-31T00:00:02.000Z", "a": 0}]
    stats = BatchStats(time_field="ts")
    stats.observe(records)
    snap = stats.snapshot()
    assert snap["accepted"] == 5 and snap["null_records"] == 2
    assert snap["nulls"] == {"a": 1, "b": 1, "ts": 1, "c": 1}
    assert snap["newest_event"] == event_time("2024-05-31T00:00:03.000Z")
