"""End-to-end alert scenarios on a real Runtime: source → producer → consumer → monitor.

See ``Scenario`` in ``conftest.py``: real threads, a fake wall clock, the test as scheduler, so
every timestamp is exact. The processing chain is the configured one (schema validation, dedup
on ``id``, late events against the ``ts`` watermark), so the counters are the pipeline's own.
"""

from __future__ import annotations

import json
import threading

from streamdash.models import ProcessResult, utc_iso
from streamdash.sources.base import FieldHints
from streamdash.sources.http import HttpSource
from streamdash.sources.retry import RetryPolicy
from streamdash.sources.simulator import SimulatedSource
from streamdash.testing import FakeClock
from tests.helpers import wait_until
from tests.httpserver import Reply, ScriptedServer, json_reply

from .conftest import T0, simulator


def at(seconds: float) -> str:
    """The ISO-8601 form of ``T0 + seconds``."""
    return utc_iso(T0 + seconds)


def test_null_spike_fires_then_resolves_when_the_rate_falls(scenarios):
    """A null-rate spike goes pending, fires after ``for``, and resolves when nulls stop."""
    clock = FakeClock(T0)
    sc = scenarios(simulator(clock), [{"name": "null_rate_high", "for": 2,
                                       "keep_firing_for": 0}], clock=clock)
    assert sc.run(3) == [] and sc.monitor.rates()["null_rate"] == 0.0
    sc.rt.source.set_rates(null_rate=0.5)
    (pending,) = sc.step()                                   # T0+4
    assert pending["state"] == "pending" and pending["active_at"] == at(4)
    assert sc.step() == []                                   # T0+5: still pending
    (firing,) = sc.step()                                    # T0+6: held for 2 s
    assert firing["state"] == "firing" and firing["starts_at"] == at(6)
    assert firing["active_at"] == at(4) and firing["value"] > 0.05
    assert sc.monitor.rates()["null_rate.temperature"] > 0
    sc.rt.source.set_rates(null_rate=0.0)
    assert sc.step() == []                                   # T0+7: window still has nulls
    (resolved,) = sc.step()                                  # T0+8: 2 s window is clean
    assert resolved["state"] == "resolved" and resolved["ends_at"] == at(8)
    assert resolved["starts_at"] == at(6) and resolved["last_evaluated"] == at(8)
    assert [h["state"] for h in sc.monitor.history()] == ["resolved", "firing", "pending"]
    assert sc.monitor.active() == []


def test_duplicate_spike_fires_and_resolves(scenarios):
    """A burst of exact duplicates fires duplicate_rate_high at once and resolves after it."""
    clock = FakeClock(T0)
    sc = scenarios(simulator(clock), [{"name": "duplicate_rate_high", "for": 0,
                                       "keep_firing_for": 1}], clock=clock)
    assert sc.run(2) == []
    sc.rt.source.set_rates(duplicate_rate=0.3)
    (firing,) = sc.step()                                    # T0+3
    assert firing["state"] == "firing" and firing["starts_at"] == at(3)
    assert firing["active_at"] == at(3) and firing["fired_value"] > 0.02
    assert sc.rt.counts()["duplicate"] > 0
    sc.rt.source.set_rates(duplicate_rate=0.0)
    transitions = sc.run(4)                                  # T0+4 … T0+7
    assert [t["state"] for t in transitions] == ["resolved"]
    # Clean from T0+4: the window is clean at T0+5, and keep_firing_for holds it 1 s more.
    assert transitions[0]["ends_at"] == at(6)


def test_late_burst_fires_late_rate_alert(scenarios):
    """A burst of late-arriving events fires late_rate_high; freshness stays measured."""
    clock = FakeClock(T0)
    sc = scenarios(simulator(clock), [{"name": "late_rate_high", "for": 1,
                                       "keep_firing_for": 0}], clock=clock)
    assert sc.run(2) == []
    sc.rt.source.set_rates(late_rate=0.4)
    trs = sc.run(2)                                          # T0+3 pending, T0+4 firing
    assert [(t["state"], t["at"]) for t in trs] == [("pending", at(3)), ("firing", at(4))]
    assert trs[1]["starts_at"] == at(4) and trs[1]["active_at"] == at(3)
    assert 0.05 < sc.monitor.rates()["late_rate"] < 1
    assert sc.rt.counts()["late"] > 0
    # Late records are not accepted, so the newest event time is a fresh one (≤ 1 s old).
    assert sc.monitor.rates()["event_age_seconds"] <= 1.0
    sc.rt.source.set_rates(late_rate=0.0)
    (resolved,) = sc.run(3)                                  # T0+5 mixed, T0+6 clean window
    assert resolved["state"] == "resolved" and resolved["ends_at"] == at(6)


def record_server(source: SimulatedSource) -> tuple[ScriptedServer, dict[str, bool]]:
    """A running local JSON API serving the simulator's batches on ``/records``, and its
    switch: while ``state["down"]`` it closes every connection without answering."""
    state = {"down": False}
    server = ScriptedServer().start()
    server.route("/records", lambda req: Reply(drop=True) if state["down"]
                 else json_reply(source.fetch()))
    return server, state


def test_source_down_fires_and_resolves_when_the_server_answers_again(scenarios):
    """When the HTTP server stops answering, source_down fires after 3 intervals; it resolves
    when the server answers again."""
    clock = FakeClock(T0)
    api, switch = record_server(simulator(clock))
    source = HttpSource("api", url=api.url("/records"),
                        hints=FieldHints(value_field="temperature", time_field="ts"),
                        retry=RetryPolicy(max_tries=1), connect_timeout=1, read_timeout=2,
                        clock=clock)
    # Steps of 1 s stand for fetch intervals: down = no success for 3 of them.
    sc = scenarios(source, [{"name": "source_down", "threshold": 3}], clock=clock)
    try:
        assert sc.run(2) == [] and sc.monitor.rates()["fetch_age_seconds"] == 0.0
        last_success = clock()                               # T0+2
        switch["down"] = True
        assert sc.run(3) == []                               # ages 1, 2, 3 s: not yet
        assert sc.rt.metrics.counter("fetch_errors") == 3
        (firing,) = sc.step()                                # T0+6: 4 s without success
        assert firing["state"] == "firing" and firing["severity"] == "critical"
        assert firing["starts_at"] == at(6) and firing["value"] == clock() - last_success
        assert sc.step() == []                               # still down, still firing
        switch["down"] = False                               # answers again
        (resolved,) = sc.step()                              # T0+8
        assert resolved["state"] == "resolved" and resolved["ends_at"] == at(8)
        assert resolved["starts_at"] == at(6)
        assert sc.rt.health()["components"]["alerts"]["firing"] == 0
    finally:
        api.stop()


def test_no_data_is_kept_then_resolved_by_fresh_data(scenarios):
    """With no records in the window the firing alert keeps its state (default keep_last)."""
    clock = FakeClock(T0)
    sc = scenarios(simulator(clock, null_rate=0.5), [{"name": "null_rate_high", "for": 0,
                                                      "keep_firing_for": 0}], clock=clock)
    (firing,) = sc.step()
    assert firing["state"] == "firing"
    assert sc.run(3, fetches=0) == []                        # nothing fetched: no data
    assert sc.monitor.rates()["null_rate"] is None
    assert sc.monitor.active()[0]["no_data"] is True
    sc.rt.source.set_rates(null_rate=0.0)
    (resolved,) = sc.step()
    assert resolved["state"] == "resolved" and resolved["ends_at"] == at(5)


def test_transitions_reach_the_event_bus_as_json(scenarios):
    """Every transition is published on the ``alert`` topic as a JSON-ready dict."""
    clock = FakeClock(T0)
    sc = scenarios(simulator(clock, null_rate=0.5), [{"name": "null_rate_high", "for": 1,
                                                      "keep_firing_for": 0}], clock=clock)
    seen: list[dict] = []
    sc.rt.events.subscribe("alert", seen.append)
    sc.run(2)
    assert [(e["state"], e["at"]) for e in seen] == [("pending", at(1)), ("firing", at(2))]
    assert json.loads(json.dumps(seen)) == seen


def test_transitions_are_persisted_when_a_data_dir_is_set(scenarios, tmp_path):
    """With persistence configured, every transition lands in the SQLite history."""
    clock = FakeClock(T0)
    sc = scenarios(simulator(clock, null_rate=0.5), [{"name": "null_rate_high", "for": 1,
                                                      "keep_firing_for": 0}], clock=clock,
                   settings={"data_dir": str(tmp_path)})
    sc.run(2)
    sc.rt.source.set_rates(null_rate=0.0)
    sc.run(3)
    sc.close()  # stopping flushes the history writer
    rows = sc.rt.history.reader.events("alerts", T0 - 1, T0 + 100)
    assert [(r["state"], r["ts"]) for r in rows] == [
        ("resolved", T0 + 4), ("firing", T0 + 2), ("pending", T0 + 1)]
    assert rows[0]["data"]["ends_at"] == at(4) and rows[0]["data"]["starts_at"] == at(2)
    assert rows[0]["rule"] == "null_rate_high" and rows[0]["severity"] == "warning"


class GatedProcessor:
    """Accepts every record, but only while the gate is open: a consumer that cannot keep up."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()  # open while the runtime starts (its first fetch goes through)
        self.entered = threading.Event()

    def process(self, records, batch):
        self.entered.set()
        self.gate.wait(10)
        return ProcessResult(list(records))


def test_full_queue_fires_backlog_alert_not_source_down(scenarios):
    """A consumer that cannot keep up fills the queue; the producer waits for room. That is
    backpressure (pipeline_backlogged fires), not a dead source (source_down stays quiet, its
    fetch age frozen while the producer waits); both settle once the consumer catches up."""
    clock = FakeClock(T0)
    gated = GatedProcessor()
    sc = scenarios(simulator(clock),
                   [{"name": "source_down", "threshold": 3},
                    {"name": "pipeline_backlogged", "threshold": 5}],
                   processor=gated, clock=clock, settings={"queue": {"maxsize": 1}})
    producer = sc.rt.producer
    gated.gate.clear()
    gated.entered.clear()
    clock.advance(1)
    producer.fetch_once()                 # T0+1: the consumer takes it and stalls
    assert gated.entered.wait(5)
    producer.fetch_once()                 # the queue's one slot
    clock.advance(1)
    waiting = threading.Thread(target=producer.fetch_once)
    waiting.start()                       # T0+2: fetched, now waiting for room
    wait_until(lambda: sc.rt.source_health.snapshot()["waiting_since"] == T0 + 2,
               what="the producer to wait for room")
    clock.advance(10)                     # T0+12: ten seconds of backpressure
    (firing,) = sc.monitor.evaluate()
    assert (firing["name"], firing["state"], firing["value"]) == (
        "pipeline_backlogged", "firing", 10.0)
    assert sc.monitor.rates()["fetch_age_seconds"] == 0.0  # fetched at T0+2, then waited
    gated.gate.set()
    waiting.join(5)
    (resolved,) = sc.step()               # T0+13: room again, a fresh fetch
    assert (resolved["name"], resolved["state"]) == ("pipeline_backlogged", "resolved")
    assert sc.monitor.active() == [] and sc.rt.counts()["dropped"] == 0
