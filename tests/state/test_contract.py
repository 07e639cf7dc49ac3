"""The StreamState contract, held by every backend: what the runtime produced is what a reader
of the state sees (records by sequence number, logs, metrics, alerts, health, snapshots)."""

from __future__ import annotations

import pytest

from streamdash.models import Rejection
from streamdash.state import EventLog, RecordLog, StreamState
from streamdash.state.memory import runtime_info

from .harness import BACKENDS, T0, Harness, recs


@pytest.fixture(params=BACKENDS)
def harness(request) -> Harness:
    h = Harness.build(request, request.param)
    yield h
    h.close()


def test_it_is_a_stream_state(harness):
    """Every backend answers the protocol, named and with a stable epoch."""
    s = harness.stream
    assert isinstance(s, StreamState) and isinstance(s.records, RecordLog)
    assert all(isinstance(getattr(s, log), EventLog) for log in
               ("quarantine", "late", "windows", "errors"))
    assert s.name == "default" and s.epoch and s.epoch == s.epoch


def test_records_by_sequence_number_within_the_capacity(harness):
    """The newest `capacity` records, seq after seq; a reader asks for what is after its seq."""
    harness.runtime.buffer.extend(recs(15))  # capacity 10: 1–5 are gone
    harness.sync()
    records = harness.stream.records
    assert records.last_seq == 15 and records.capacity == 10
    assert [seq for seq, _ in records.after(0)] == list(range(6, 16))
    assert [r["id"] for _, r in records.after(12)] == [12, 13, 14]
    assert [seq for seq, _ in records.after(0, limit=3)] == [13, 14, 15]
    assert [seq for seq, _ in records.snapshot(2)] == [14, 15]
    assert records.after(15) == [] and records.after(999) == []
    assert records.after(3)[0] == (6, {"id": 5, "key": "k1", "value": 5.0, "ts": T0 + 5})


def test_logs_newest_first_with_totals(harness):
    """Quarantine, late, windows and errors: newest first, every item counted."""
    rt = harness.runtime
    rt.quarantine.add_many([Rejection({"id": i}, [{"field": "v", "rule": "type"}], "s", T0 + i)
                            for i in range(3)])
    rt.events.publish("late", [{"at": T0, "record": {"id": 1}, "lateness_s": 3.0}])
    rt.events.publish("window", [{"key": "k", "start": T0, "end": T0 + 10, "mean": 1.0},
                                 {"key": "k", "start": T0 + 10, "end": T0 + 20, "mean": 2.0}])
    rt.events.publish("ingest_error", {"at": T0, "source": "s", "reason": "boom"})
    harness.sync()
    s = harness.stream
    assert s.quarantine.total == 3 and [i["record"]["id"] for i in s.quarantine.recent()] \
        == [2, 1, 0]
    assert s.quarantine.recent(1)[0]["reasons"] == [{"field": "v", "rule": "type"}]
    assert s.late.total == 1 and s.late.recent()[0]["record"] == {"id": 1}
    assert s.windows.total == 2 and [w["mean"] for w in s.windows.recent()] == [2.0, 1.0]
    assert s.errors.total == 1 and s.errors.recent(5)[0]["reason"] == "boom"
    assert s.late.capacity == rt.late.capacity


def test_metrics_counts_info_and_pulse(harness):
    """Counters, gauges, the outcome counts, what the stream is, and its freshness facts."""
    rt = harness.runtime
    rt.metrics.add_many({"records_in": 7, "records_accepted": 5, "records_rejected": 2})
    rt.metrics.set_gauge("last_stored_at", T0)
    rt.metrics.observe("batch_processing_seconds", 0.01)
    harness.sync()
    s = harness.stream
    snap = s.metrics.snapshot()
    assert snap["counters"]["records_in"] == 7 and s.metrics.gauge("last_stored_at") == T0
    assert snap["histograms"]["batch_processing_seconds"]["count"] == 1
    assert s.counts()["in"] == 7 and s.counts()["rejected"] == 2
    assert s.info() == runtime_info(rt)
    pulse = s.pulse()
    assert pulse.interval == rt.fetch_interval() and pulse.last_success is None


def test_quality_alerts_and_series(harness):
    """The monitor's read API: firing alerts, transitions, rates, series, rules."""
    rt = harness.runtime
    monitor = rt.monitor
    monitor.evaluate(T0)
    rt.metrics.add_many({"records_in": 10, "records_accepted": 5, "records_rejected": 5})
    monitor.evaluate(T0 + 1)
    monitor.evaluate(T0 + 17)  # invalid_rate_high has been pending for its 15 s: firing
    harness.sync()
    q = harness.stream.quality
    assert q.evaluations == 3 and q.enabled and q.window_seconds == monitor.window.window
    assert [a["name"] for a in q.active()] == [a["name"] for a in monitor.active()]
    assert q.alerts() == monitor.alerts()
    assert q.history(10) == monitor.history(10) and q.history(10)[0]["state"] == "firing"
    assert q.history(None, "pending") == monitor.history(None, "pending")
    assert q.history(None, None, T0 + 10) == monitor.history(None, None, T0 + 10)
    assert q.rates() == monitor.rates()
    assert q.series(["invalid_rate"], 2) == monitor.series(["invalid_rate"], 2)
    assert {m: [list(t) for t in v] for m, v in q.thresholds().items()} == \
        {m: [list(t) for t in v] for m, v in monitor.thresholds().items()}
    assert q.rules() == monitor.rules()


def test_status_health_and_snapshots(harness):
    """Status and health as the runtime judges them; the metrics snapshots by time."""
    rt = harness.runtime
    rt.metrics.add_many({"records_in": 40, "records_accepted": 40})
    rt.reporter.snapshot()
    harness.clock.advance(10)
    rt.reporter.snapshot()
    harness.sync()
    s = harness.stream
    assert s.status().state == rt.status().state
    assert s.health()["status"] == rt.health()["status"]
    series = s.metric_history(["records_in"], T0 - 1, T0 + 60)
    assert series == {"records_in": [(T0, 40), (T0 + 10, 40)]}
    assert s.metric_history(["records_in"], T0 + 5, T0 + 60) == {"records_in": [(T0 + 10, 40)]}
    assert s.metric_history(["records_in"], T0 - 1, T0 + 60, 1) == {"records_in": [(T0 + 10, 40)]}
