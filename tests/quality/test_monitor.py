"""The QualityMonitor: evaluation, transitions (log, history, event bus, notifier), read API."""

from __future__ import annotations

import logging
import time

from streamdash.events import EventBus
from streamdash.metrics import Metrics
from streamdash.pipeline.workers import SourceHealth
from streamdash.quality.monitor import QualityMonitor
from streamdash.quality.rules import Rule
from streamdash.testing import FakeClock

T0 = 1_700_000_000.0


class Rig:
    """A monitor over hand-fed metrics and batch stats, with a fake clock."""

    def __init__(self, rules, **kw):
        self.clock = FakeClock(T0)
        self.metrics = Metrics()
        self.health = SourceHealth()
        self.events = EventBus()
        self.published: list[dict] = []
        self.events.subscribe("alert", self.published.append)
        opts = {"window": 10, "baseline": 0, "time_field": "ts"}
        opts.update(kw)
        self.monitor = QualityMonitor(rules, metrics=self.metrics, source_health=self.health,
                                      events=self.events, clock=self.clock, **opts)
        self.monitor.sample()  # what start() does: the baseline sample at T0

    def feed(self, records: list[dict], seconds: float = 1.0) -> list[dict]:
        """Advance the clock, count ``records`` as fetched and accepted, evaluate."""
        self.clock.advance(seconds)
        self.health.success(self.clock())
        self.metrics.add_many({"records_in": len(records), "records_accepted": len(records),
                               "fetches": 1})
        self.monitor.stats.observe(records)
        return self.monitor.evaluate()


CLEAN = [{"ts": T0, "v": 1.0}] * 10
NULLS = [{"ts": T0, "v": None}] * 5 + [{"ts": T0, "v": 1.0}] * 5


def test_null_spike_fires_logs_publishes_and_resolves(caplog):
    """A null spike goes pending, fires after ``for``, resolves; each step logged and published."""
    rig = Rig([Rule("nulls", "null_rate", ">", 0.05, for_=2, severity="critical")], window=1)
    with caplog.at_level(logging.INFO, logger="streamdash.quality"):
        rig.feed(CLEAN)
        assert [t["state"] for t in rig.feed(NULLS)] == ["pending"]
        assert rig.feed(NULLS) == []
        (firing,) = rig.feed(NULLS)
        assert rig.feed(CLEAN)[0]["state"] == "resolved"
    assert firing["state"] == "firing" and firing["starts_at"] == "2023-11-14T22:13:24.000Z"
    assert firing["active_at"] == "2023-11-14T22:13:22.000Z" and firing["fired_value"] == 0.5
    assert [p["state"] for p in rig.published] == ["pending", "firing", "resolved"]
    assert rig.published[-1]["ends_at"] == "2023-11-14T22:13:25.000Z"
    levels = {r.getMessage(): r.levelname for r in caplog.records}
    assert levels["alert nulls firing"] == "ERROR"
    assert levels["alert nulls resolved"] == "INFO" and levels["alert nulls pending"] == "INFO"
    assert rig.metrics.counter("alert_transitions_firing") == 1


def test_warning_alerts_log_at_warning(caplog):
    """A firing warning-severity alert is logged at WARNING."""
    rig = Rig([Rule("nulls", "null_rate", ">", 0.05)])
    with caplog.at_level(logging.INFO, logger="streamdash.quality"):
        rig.feed(NULLS)
    assert [r.levelname for r in caplog.records] == ["WARNING"]


def test_read_api_snapshots():
    """active, alerts, history, rates, series and thresholds return JSON-ready copies."""
    rules = [Rule("nulls", "null_rate", ">", 0.05), Rule("slow", "throughput", "<", 1),
             Rule("temp", "null_rate.v", ">=", 0.5, severity="info")]
    rig = Rig(rules)
    rig.feed(CLEAN)
    rig.feed(NULLS)
    active = rig.monitor.active()
    assert [a["name"] for a in active] == ["nulls"]
    assert [a["state"] for a in rig.monitor.alerts()] == ["firing", "inactive", "inactive"]
    assert rig.monitor.rates()["null_rate"] == 0.25 and rig.monitor.rates()["null_rate.v"] == 0.25
    series = rig.monitor.series(["null_rate", "throughput"])
    assert series["ts"] == [T0 + 1, T0 + 2] and series["null_rate"] == [0.0, 0.25]
    assert series["at"][0] == "2023-11-14T22:13:21.000Z"
    assert rig.monitor.series(limit=1)["ts"] == [T0 + 2]
    assert rig.monitor.thresholds() == {"null_rate": [("nulls", ">", 0.05, "warning")],
                                        "throughput": [("slow", "<", 1.0, "warning")],
                                        "null_rate.v": [("temp", ">=", 0.5, "info")]}
    assert [r["name"] for r in rig.monitor.rules()] == ["nulls", "slow", "temp"]
    active[0]["state"] = "changed"  # copies: the monitor is unaffected
    assert rig.monitor.active()[0]["state"] == "firing"


def test_history_filters_by_state_and_since_newest_first():
    """history(limit, state, since) filters transitions and lists the newest first."""
    rig = Rig([Rule("nulls", "null_rate", ">", 0.05)], window=1)
    rig.feed(NULLS)              # fires at T0+1
    rig.feed(CLEAN)              # resolves at T0+2
    rig.feed(NULLS)              # fires at T0+3
    hist = rig.monitor.history()
    assert [(h["state"], h["at_ts"]) for h in hist] == [
        ("firing", T0 + 3), ("resolved", T0 + 2), ("firing", T0 + 1)]
    assert [h["at_ts"] for h in rig.monitor.history(state="firing")] == [T0 + 3, T0 + 1]
    assert [h["at_ts"] for h in rig.monitor.history(since=T0 + 2)] == [T0 + 3, T0 + 2]
    assert len(rig.monitor.history(limit=1)) == 1 and len(rig.monitor.history(None)) == 3


def test_history_is_bounded():
    """Only the newest ``history_size`` transitions are kept in memory."""
    rig = Rig([Rule("nulls", "null_rate", ">", 0.05)], window=1, history_size=3)
    for _ in range(4):
        rig.feed(NULLS)
        rig.feed(CLEAN)
    assert len(rig.monitor.history(None)) == 3


def test_source_down_fires_before_any_success_and_resolves_on_success():
    """fetch_age counts from the start when nothing succeeded yet, then from the last success."""
    rig = Rig([Rule("source_down", "fetch_age_seconds", ">", 3, severity="critical")])
    rig.clock.advance(3)
    assert rig.monitor.evaluate() == []
    rig.clock.advance(0.5)
    (firing,) = rig.monitor.evaluate()
    assert firing["starts_at"] == "2023-11-14T22:13:23.500Z" and firing["value"] == 3.5
    (resolved,) = rig.feed(CLEAN)
    assert resolved["ends_at"] == "2023-11-14T22:13:24.500Z" and resolved["value"] == 0.0


def test_source_down_threshold_follows_the_fetch_interval_as_it_changes():
    """With a fetch_interval function, the interval-scaled rule's threshold is re-read at each
    evaluation: a source polled every 60 s is not down 16 s after a poll."""
    interval = [5.0]
    rule = Rule("source_down", "fetch_age_seconds", ">", 15, severity="critical", intervals=3)
    rig = Rig([rule], fetch_interval=lambda: interval[0])
    rig.feed(CLEAN)
    interval[0] = 60.0
    rig.clock.advance(179)
    assert rig.monitor.evaluate() == []
    assert rig.monitor.thresholds()["fetch_age_seconds"][0][2] == 180.0
    interval[0] = 5.0  # the server's hint went away: back to 3 × 5 s
    (firing,) = rig.monitor.evaluate()
    assert firing["state"] == "firing" and firing["threshold"] == 15.0


def test_waiting_for_queue_room_is_backpressure_not_a_source_down():
    """While the producer waits for room in a full queue, fetch_age stops growing (the source
    is fine) and backpressure_seconds grows: pipeline_backlogged fires, source_down does not;
    both settle once the producer gets room and fetches again."""
    rig = Rig([Rule("source_down", "fetch_age_seconds", ">", 3, severity="critical"),
               Rule("pipeline_backlogged", "backpressure_seconds", ">", 5)])
    rig.feed(CLEAN)
    rig.clock.advance(1)
    rig.health.waiting(rig.clock())  # queue full at T0 + 2; last success at T0 + 1
    rig.clock.advance(9)
    (firing,) = rig.monitor.evaluate()
    assert firing["name"] == "pipeline_backlogged" and firing["value"] == 9.0
    assert rig.monitor.rates()["fetch_age_seconds"] == 1.0
    rig.health.waiting(None)
    (resolved,) = rig.feed(CLEAN)
    assert resolved["name"] == "pipeline_backlogged" and resolved["state"] == "resolved"
    assert rig.monitor.rates()["backpressure_seconds"] == 0.0
    assert not rig.monitor.active()


def test_no_data_keeps_state_by_default():
    """With no records in the window, rates are None and a firing alert stays firing."""
    rig = Rig([Rule("nulls", "null_rate", ">", 0.05)], window=1)
    rig.feed(NULLS)
    rig.clock.advance(5)
    assert rig.monitor.evaluate() == []
    (alert,) = rig.monitor.active()
    assert alert["no_data"] is True and rig.monitor.rates()["null_rate"] is None


def test_notifier_gets_firing_and_resolved_only():
    """Only firing and resolved transitions go to the notifier, with their transition time."""

    class Recorder:
        def __init__(self):
            self.sent, self.reminded = [], []

        def notify(self, view, now):
            self.sent.append((view["state"], now))

        def remind(self, firing, now):
            self.reminded.append(len(firing))

        def start(self):
            pass

        def stop(self):
            pass

        def join(self, timeout=None):
            return True

        alive = False

        def describe(self):
            return {}

    rig = Rig([Rule("nulls", "null_rate", ">", 0.05, for_=1)], window=1)
    rec = rig.monitor.notifier = Recorder()
    rig.feed(NULLS)
    rig.feed(NULLS)
    rig.feed(CLEAN)
    assert rec.sent == [("firing", T0 + 2), ("resolved", T0 + 3)]
    assert rec.reminded == [0, 1, 0]


def test_thread_evaluates_until_stopped_and_survives_errors():
    """The monitor thread evaluates on its interval, counts a failing evaluation, and stops."""
    rig = Rig([Rule("nulls", "null_rate", ">", 0.05)], interval=0.01)
    calls = []
    real = rig.monitor.window.compute

    def flaky(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return real(*a, **kw)

    rig.monitor.window.compute = flaky
    with rig.monitor:
        rig.monitor.start()  # idempotent
        deadline = time.monotonic() + 5
        while rig.monitor.evaluations < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert rig.monitor.alive and rig.monitor.describe()["alive"]
    assert not rig.monitor.alive and rig.monitor.evaluations >= 3
    assert rig.metrics.counter("monitor_errors") == 1


def test_disabled_monitor_never_starts():
    """A disabled monitor has no thread and answers its read API with empty values."""
    rig = Rig([], enabled=False)
    rig.monitor.start()
    assert not rig.monitor.alive and rig.monitor.active() == [] and rig.monitor.rates() == {}
    assert rig.monitor.describe()["enabled"] is False and rig.monitor.join(0.1)
