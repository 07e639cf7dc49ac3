"""Tests for streamdash.store.history.reader: HistoryReader's queries and downsampling, on both
backends (the same answers from SQLite and PostgreSQL)."""

import time

import pytest

from streamdash.store.history import SqliteReader, StorageUnavailable
from tests.helpers import wait_until

#: The writer takes what is queued every loop (0.2 s when idle); a loaded machine gets ample
#: room, the test still fails quickly when the writer is stuck.
WRITE_TIMEOUT = 30.0
#: A recent time, so the default 7-day retention keeps what the tests write.
T0 = time.time() - 3600


def test_reader_reports_a_missing_database():
    """Reading a data dir without history raises StorageUnavailable naming the path."""
    with pytest.raises(StorageUnavailable, match="no history database"):
        SqliteReader("/nonexistent/history.sqlite3").metrics(["x"], 0, 1)


def test_metric_buckets_average_per_step_in_one_bounded_answer(history_backend):
    """A day of 10 s snapshots comes back as one point per hour: bucket means (or maxima for
    ``peak`` names), None values skipped, hours without snapshots absent."""
    with history_backend.history() as history:
        for i in range(8640):
            if 6 * 360 <= i < 8 * 360:  # two hours down
                continue
            history.record_snapshot({"throughput_in": 2.0 if i % 2 else 4.0,
                                     "latency_p95": float(i % 360),
                                     "late_rate": None}, ts=T0 - 86_400 + 10 * i)
        wait_until(lambda: history.status()["written"] >= 8640 - 720 + 1, WRITE_TIMEOUT,
                   "every snapshot written")  # more than stop()'s few seconds when loaded
    reader = history_backend.reader()
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


def test_events_select_by_key_and_state_and_page_with_a_cursor(history_backend):
    """events() returns rows newest first with JSON decoded; key keeps one window key, state
    one alert state, and the (ts, id) cursor of the last row gives the next, older page."""
    with history_backend.history() as history:
        history.on_windows([{"key": k, "start": i, "ts": T0 + i} for i, k in
                            enumerate("abab")])
        history.on_alert({"name": "nulls", "state": "firing", "ts": T0})
        history.on_alert({"name": "nulls", "state": "resolved", "ts": T0 + 1})
    reader = history_backend.reader()
    windows = reader.events("windows", T0, T0 + 10, key="a")
    assert [w["data"]["start"] for w in windows] == [2, 0]
    assert [a["state"] for a in reader.events("alerts", T0, T0 + 10, state="resolved")] == [
        "resolved"]
    first = reader.events("windows", T0, T0 + 10, limit=2)
    older = reader.events("windows", T0, T0 + 10, limit=2,
                          before=(first[-1]["ts"], first[-1]["id"]))
    assert [w["data"]["start"] for w in first + older] == [3, 2, 1, 0]
    assert reader.count("windows") == 4 and reader.count("runs") == 1


@pytest.mark.parametrize("call, message", [
    (lambda r: r.events("snapshots", 0, 1), "unknown history table 'snapshots'"),
    (lambda r: r.events("alerts", 0, 1, key="a"), "only windows are selected by key"),
    (lambda r: r.events("dlq", 0, 1, state="firing"), "only alerts are selected by state"),
    (lambda r: r.count("meta"), "unknown history table 'meta'"),
    (lambda r: r.table_rows("meta", 0, 1), "unknown history table 'meta'"),
])
def test_a_table_or_filter_outside_the_schema_is_refused(history_backend, call, message):
    """Table names and filters are checked against the schema before any SQL is built."""
    with history_backend.history():
        pass
    with pytest.raises(ValueError, match=message):
        call(history_backend.reader())


def test_metric_page_walks_snapshots_newest_first_with_a_cursor(history_backend):
    """metric_page gives (ts, rowid, values) newest first; its last row is the next cursor."""
    with history_backend.history() as history:
        for i in range(5):
            history.record_snapshot({"x": i, "y": -i}, ts=T0 + i)
    reader = history_backend.reader()
    page = reader.metric_page(["x", "y"], T0, T0 + 10, limit=3)
    assert [(ts - T0, values) for ts, _, values in page] == [(4, [4, -4]), (3, [3, -3]),
                                                              (2, [2, -2])]
    rest = reader.metric_page(["x"], T0, T0 + 10, limit=3, before=page[-1][:2])
    assert [values for _, _, values in rest] == [[1], [0]]
