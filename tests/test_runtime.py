"""Tests for streamdash.runtime.Runtime: lifecycle, accounting, health."""

import logging
import threading
import time

import pytest

from streamdash.config import Settings
from streamdash.models import Batch, ProcessResult
from streamdash.runtime import Runtime
from streamdash.sources.simulator import SimulatedSource
from streamdash.testing import FailingSource, ListSource
from streamdash.threads import ThreadRunner
from tests.helpers import wait_for


def fast(**extra):
    return Settings({"source.interval": 0.1, **extra})


def test_simulator_run_counts_add_up():
    """A runtime on the simulator ingests ≥ 100 records and every record has one outcome."""
    source = SimulatedSource(seed=1, batch_size=50, invalid_rate=0.05, count=400)
    rt = Runtime(fast(), source)
    with rt:
        assert wait_for(lambda: rt.counts()["in"] >= 400)
    c = rt.counts()
    assert c["in"] == 400
    assert c["accepted"] >= 100
    assert c["in"] == sum(c[k] for k in ("accepted", "rejected", "duplicate", "filtered", "late",
                                         "dropped"))
    assert len(rt.buffer) == c["accepted"]
    assert rt.quarantine.total == c["rejected"] > 0


def test_start_and_stop_are_idempotent():
    """start() twice runs one pair of threads; stop() twice is harmless; restart works."""
    rt = Runtime(fast(), ListSource([[{"id": 1}]], loop=True))
    rt.start()
    threads = {t.name for t in threading.enumerate()}
    rt.start()
    assert {t.name for t in threading.enumerate()} == threads and rt.running
    assert "streamdash-producer" in threads and "streamdash-consumer" in threads
    assert rt.stop() is True
    assert rt.stop() is True
    assert not rt.running and not rt.producer.alive and not rt.consumer.alive
    rt.start()
    assert wait_for(lambda: rt.producer.alive)
    rt.stop()


def test_stop_returns_false_and_names_a_service_that_overstays(caplog):
    """stop() still stops the rest, returns False and logs which service did not end in
    time (here a monitor thread that ignores the stop for longer than its 2 s bound)."""
    release = threading.Event()
    rt = Runtime(fast(), ListSource([[{"id": 1}]], loop=True))
    rt.monitor = ThreadRunner("stubborn-monitor", lambda: release.wait(30))
    rt.start()
    with caplog.at_level(logging.WARNING, logger="streamdash.runtime"):
        assert rt.stop() is False
    release.set()
    assert not rt.producer.alive and not rt.consumer.alive and not rt.reporter.alive
    (record,) = [r for r in caplog.records if r.getMessage() == "services did not stop in time"]
    assert record.ctx["services"] == "monitor"


def test_stop_drains_the_queue():
    """Batches queued before stop() are processed, not lost."""
    class Slow:
        def process(self, records, batch):
            time.sleep(0.05)
            return ProcessResult(list(records))

    batches = [[{"id": i}] for i in range(10)]
    rt = Runtime(Settings({"source.interval": 0.1}), ListSource(batches), Slow())
    for _ in range(10):
        rt.producer.fetch_once()  # fill the queue before the consumer runs
    rt.start()
    rt.stop(timeout=5)
    c = rt.counts()
    assert c["in"] == 10 and c["accepted"] == 10 and c["dropped"] == 0


def test_drain_timeout_counts_leftovers_as_dropped():
    """What the consumer could not drain in time is counted as dropped."""
    class Slow:
        def process(self, records, batch):
            time.sleep(0.2)
            return ProcessResult(list(records))

    rt = Runtime(Settings({"source.interval": 3600}), ListSource([[{"id": i}] for i in range(20)]),
                 Slow())
    for _ in range(20):
        rt.producer.fetch_once()
    rt.start()
    rt.stop(timeout=0.3)
    c = rt.counts()
    assert c["dropped"] > 0
    assert c["in"] == 20 and c["in"] == c["accepted"] + c["dropped"]


def test_context_manager_and_health_ok():
    """Inside `with`, health is ok with live threads; afterwards it is down."""
    with Runtime(fast(), ListSource([[{"id": 1}]], loop=True)) as rt:
        assert wait_for(lambda: rt.counts()["accepted"] > 0)
        h = rt.health()
        assert h["status"] == "ok"
        assert h["components"]["producer"]["alive"] and h["components"]["queue"]["capacity"] == 100
        assert h["uptime_s"] >= 0
    assert rt.health()["status"] == "down"


def test_health_goes_down_when_source_fails_and_recovers():
    """Three consecutive failed fetches mark the pipeline down; one success clears it."""
    rt = Runtime(fast(), FailingSource("x"))
    with rt:
        assert wait_for(lambda: rt.health()["status"] == "down")
        assert rt.health()["components"]["source"]["consecutive_failures"] >= 3


def test_status_names_a_queue_over_80_percent_full_and_a_restarting_thread():
    """A queue above 80 % full and a thread that crashed recently are reasons to degrade."""
    rt = Runtime(fast(**{"queue.maxsize": 10}), ListSource([]))
    assert rt.queue_fill() == 0.0 and not any("queue" in r for r in rt.status().reasons)
    for i in range(9):
        rt.queue.put_nowait(Batch([{"id": i}], fetched_at=0.0))
    assert rt.queue_fill() == 0.9
    rt.consumer.crashed_at = rt.monotonic()
    reasons = rt.status().reasons
    assert "queue 90% full (above 80%)" in reasons
    assert "consumer restarting after a crash" in reasons
    assert rt.status().state == "down" and reasons[0] == "pipeline not running"


def test_degraded_on_first_failure():
    """A single failed fetch degrades the status without marking it down."""
    rt = Runtime(Settings({"source.interval": 3600}), ListSource([OSError("x")]))
    with rt:
        assert wait_for(lambda: rt.source_health.snapshot()["failures"] == 1)
        assert rt.health()["status"] == "degraded"


def test_batch_listener_and_events():
    """Batch listeners see every processed batch; event topics feed the recent logs."""
    rt = Runtime(fast(), ListSource([[{"id": 1}, {"id": 2}]]))
    seen = []
    rt.add_batch_listener(lambda batch, result: seen.append(len(result.accepted)))
    rt.events.publish("ingest_error", {"reason": "boom"})
    rt.events.publish("window", [{"key": "a"}, {"key": "b"}])
    with rt:
        assert wait_for(lambda: seen == [2])
    assert rt.ingest_errors.recent()[0]["reason"] == "boom"
    assert [w["key"] for w in rt.windows.recent()] == ["b", "a"]


def test_two_runtimes_are_independent():
    """Several runtimes in one process share no state."""
    a = Runtime(fast(), ListSource([[{"id": 1}]]))
    b = Runtime(fast(), ListSource([[{"id": 1}, {"id": 2}]]))
    with a, b:
        assert wait_for(lambda: a.counts()["accepted"] == 1 and b.counts()["accepted"] == 2)
    assert a.metrics is not b.metrics and a.buffer is not b.buffer


def test_default_source_comes_from_settings():
    """Without a source, the runtime builds the configured one (the simulator by default)."""
    rt = Runtime(Settings({"source": {"type": "simulated", "seed": 3, "batch_size": 5}}))
    assert rt.source.kind == "simulated" and rt.source.batch_size == 5
    with pytest.raises(Exception, match="source.type"):
        Runtime(Settings({"source.type": "nope"}))


def test_ingest_errors_are_counted_retries_included():
    """Every published ingestion error (each retry too) increments the ingest_errors counter."""
    rt = Runtime(fast(), ListSource([]))
    for attempt in (1, 2, 3):
        rt.events.publish("ingest_error", {"reason": "HTTP 503", "attempt": attempt})
    assert rt.metrics.counter("ingest_errors") == 3
    assert rt.ingest_errors.total == 3


def test_stop_flushes_a_flushable_processor_once():
    """stop() calls flush() on a processor that declares it (Flushable), after the drain."""
    class Windowed:
        flushed = 0

        def process(self, records, batch):
            return ProcessResult(list(records))

        def flush(self):
            self.flushed += 1
            return 0

    processor = Windowed()
    rt = Runtime(fast(), ListSource([[{"id": 1}]]), processor)
    with rt:
        assert wait_for(lambda: rt.counts()["accepted"] == 1)
    assert processor.flushed == 1
