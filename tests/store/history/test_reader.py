"""Tests for streamdash.store.history.reader: HistoryReader's queries and downsampling."""

import time

import pytest

from streamdash.store.history import History, HistoryReader, StorageUnavailable, database_path

#: A recent time, so the default 7-day retention keeps what the tests write.
T0 = time.time() - 3600


def test_reader_reports_a_missing_database():
    """Reading a data dir without history raises StorageUnavailable naming the path."""
    with pytest.raises(StorageUnavailable, match="no history database"):
        HistoryReader("/nonexistent/history.sqlite3").metrics(["x"], 0, 1)


def test_metric_buckets_average_per_step_in_one_bounded_answer(tmp_path):
    """A day of 10 s snapshots comes back as one point per hour: bucket means (or maxima for
    ``peak`` names), None values skipped, hours without snapshots absent."""
    path = database_path(tmp_path)
    with History(path) as history:
        for i in range(8640):
            if 6 * 360 <= i < 8 * 360:  # two hours down
                continue
            history.record_snapshot({"throughput_in": 2.0 if i % 2 else 4.0,
                                     "latency_p95": float(i % 360),
                                     "late_rate": None}, ts=T0 - 86_400 + 10 * i)
    reader = HistoryReader(path)
    out = reader.metric_buckets(["throughput_in", "latency_p95", "late_rate"], T0 - 86_400, T0,
                                3600, peak=["latency_p95"])
    assert len(out["throughput_in"]) == 22 and {v for _, v in out["throughput_in"]} == {3.0}
    assert {v for _, v in out["latency_p95"]} == {359.0}
    assert {v for _, v in out["late_rate"]} == {None}
    times = [ts for ts, _ in out["throughput_in"]]
    assert times[0] == pytest.approx(T0 - 86_400 + 1795) and times[6] - times[5] == 3 * 3600
    assert reader.metric_buckets([], T0 - 10, T0, 1) == {}
    with pytest.raises(ValueError, match="step must be positive"):
        reader.metric_buckets(["throughput_in"], T0 - 10, T0, 0)
