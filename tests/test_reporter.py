"""Tests for streamdash.reporter: snapshot derivation, the snapshot thread and the log summary."""

import logging
import threading
import time

import pytest

from streamdash.metrics import Metrics
from streamdash.models import ProcessResult, Rejection
from streamdash.reporter import (
    SNAPSHOT_FIELDS,
    Reporter,
    count_nulls,
    derive,
    records_with_null,
)
from streamdash.threads import Service


def snapshot(counters, gauges=None, hist=None):
    """A metrics snapshot shaped like Metrics.snapshot()."""
    return {"counters": counters, "gauges": gauges or {}, "histograms": hist or {}}


def test_derive_turns_counter_deltas_into_rates():
    """Throughput, error and data-quality rates come from the deltas over the interval."""
    prev = {"records_in": 100, "records_accepted": 80, "fetches": 10}
    cur = snapshot({"records_in": 300, "records_accepted": 230, "records_rejected": 20,
                    "records_duplicate": 10, "records_late": 10, "records_filtered": 10,
                    "records_with_null": 5, "fetches": 18, "fetch_errors": 2,
                    "records_dropped": 3, "thread_restarts": 1},
                   {"queue_depth": 5, "queue_capacity": 100, "buffer_size": 50,
                    "buffer_capacity": 200},
                   {"end_to_end_latency_seconds": {"p50": 0.1, "p95": 0.2, "p99": 0.3},
                    "batch_processing_seconds": {"p50": 0.01, "p95": 0.02, "p99": 0.03}})
    out = derive(prev, cur, 10.0)
    assert out["throughput_in"] == 20.0 and out["throughput_out"] == 15.0
    assert out["invalid_rate"] == pytest.approx(20 / 200)
    assert out["duplicate_rate"] == out["late_rate"] == out["filtered_rate"] == 0.05
    assert out["null_rate"] == round(5 / 150, 6)  # of the accepted records (rounded to 1e-6)
    assert out["error_rate"] == pytest.approx(2 / 10)
    assert (out["latency_p50"], out["latency_p95"], out["latency_p99"]) == (0.1, 0.2, 0.3)
    assert out["batch_p95"] == 0.02 and out["fetch_p95"] is None
    assert out["queue_fill"] == 0.05 and out["buffer_fill"] == 0.25
    assert out["dropped"] == 3 and out["restarts"] == 1 and out["records_in"] == 300
    assert set(out) == set(SNAPSHOT_FIELDS)


def test_derive_with_nothing_processed_gives_zero_rates():
    """No traffic and a zero-length interval give rates of 0, never a division error."""
    out = derive({}, snapshot({}), 0.0)
    assert out["throughput_in"] == 0 and out["invalid_rate"] == 0 and out["error_rate"] == 0


def test_reporter_snapshots_periodically_and_once_more_on_stop(caplog):
    """Snapshots reach the sink on schedule, plus a final one (and a summary) on stop."""
    metrics = Metrics()
    got = []
    reporter = Reporter(metrics, 0.05, sink=lambda values, ts: got.append((ts, values)),
                        summary_interval=0.05, source="sim")
    with caplog.at_level(logging.INFO, logger="streamdash.reporter"):
        reporter.start()
        metrics.add_many({"records_in": 10, "records_accepted": 10})
        deadline = time.monotonic() + 5
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        metrics.inc("records_in", 5)
        assert reporter.stop() is True
    assert len(got) >= 3 and got[-1][1]["records_in"] == 15
    assert sum(v["throughput_in"] * v["interval_s"] for _, v in got) == pytest.approx(15, rel=1e-3)
    assert reporter.series(["records_in"], 0, 2e9, 1)["records_in"][0][1] == 15
    summaries = [r for r in caplog.records if r.getMessage() == "pipeline summary"]
    assert summaries and summaries[-1].ctx["records_in"] == 15


def test_reporter_is_a_service_whose_second_stop_takes_no_snapshot():
    """start() twice runs one thread; stop() is True and a second stop() (or one before any
    start) takes no further snapshot."""
    got = []
    reporter = Reporter(Metrics(), 3600, sink=lambda values, ts: got.append(ts),
                        summary_interval=0)
    assert isinstance(reporter, Service) and reporter.stop() is True and got == []
    with reporter:
        reporter.start()
        assert [t.name for t in threading.enumerate()].count("streamdash-reporter") == 1
    assert len(got) == 1 and not reporter.alive  # the final snapshot
    assert reporter.stop() is True and len(got) == 1


def test_count_nulls_counts_accepted_records_with_a_null_field():
    """The batch listener counts accepted records holding a null (a rejected record's null is
    a quarantine reason, not part of the data's null rate)."""
    metrics = Metrics()
    result = ProcessResult([{"a": None}, {"a": 1}, {"a": None, "b": None}],
                           [Rejection({"b": None}, [])])
    count_nulls(metrics)(None, result)
    assert metrics.counter("records_with_null") == 2


def test_records_with_null_counts_only_real_nones():
    """Values equal to None but not None, raising comparisons and non-dicts never count."""

    class EqualsAll:
        def __eq__(self, other):
            return True

        __hash__ = object.__hash__

    class Raises:
        def __eq__(self, other):
            raise ValueError("no comparing")

        __hash__ = object.__hash__

    records = [{"a": EqualsAll()}, {"a": 1, "b": None, "c": None}, "text", None, [None],
               {"x": 0, "y": ""}, {"z": float("nan")}]
    assert records_with_null(records) == 1
    assert records_with_null([{"a": Raises()}, {"b": None}]) == 1
    assert records_with_null([]) == 0


def test_history_null_rate_counts_what_the_alert_metric_counts():
    """On a real runtime the reporter's records_with_null and the quality monitor's
    null_records agree, so the history chart and the null_rate alert show the same rate."""
    from streamdash.config import Settings
    from streamdash.runtime import Runtime
    from streamdash.testing import ListSource
    from tests.helpers import wait_until

    batch = [{"id": str(i), "value": None if i % 4 == 0 else float(i), "key": "k"}
             for i in range(40)] + [{"value": None, "key": "k"}] * 3  # no id: invalid
    rt = Runtime(Settings({"source.interval": 0.1}), ListSource([batch]))
    rt.start()
    wait_until(lambda: rt.counts()["in"] == 43 and rt.monitor.stats.snapshot()["accepted"]
               == rt.counts()["accepted"], what="the batch to be processed")
    rt.stop()
    assert rt.counts()["rejected"] == 3
    assert rt.metrics.counter("records_with_null") == 10
    assert rt.monitor.stats.snapshot()["null_records"] == 10
