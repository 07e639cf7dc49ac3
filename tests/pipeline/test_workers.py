"""Tests for streamdash.pipeline.workers: producer schedule, queue policies, consumer, restarts."""

import queue
import threading
import time

from streamdash.errors import SourceError
from streamdash.metrics import Metrics
from streamdash.models import Batch, ProcessResult
from streamdash.pipeline.chain import RequiredFields
from streamdash.pipeline.supervised import SupervisedThread
from streamdash.pipeline.workers import Consumer, Producer, SourceHealth
from streamdash.sources.base import Delivery
from streamdash.store.quarantine import Quarantine
from streamdash.store.ring import RingBuffer
from streamdash.testing import FailingSource, ListSource
from tests.helpers import wait_for, wait_until, within


def make_producer(source, q, policy="block", interval=0.01):
    metrics = Metrics()
    return Producer(source, q, metrics, SourceHealth(), interval=interval, policy=policy), metrics




def test_fetch_once_queues_batch_with_fetch_time():
    """One fetch puts one batch with its records, source name and fetch time on the queue."""
    q = queue.Queue(10)
    producer, metrics = make_producer(ListSource([[{"id": 1}, {"id": 2}]], name="s"), q)
    before = time.time()
    assert producer.fetch_once() == 2
    batch = q.get_nowait()
    assert [r["id"] for r in batch.records] == [1, 2]
    assert batch.source == "s" and batch.fetched_at >= before
    assert metrics.counter("records_in") == 2 and metrics.counter("batches_in") == 1


def test_empty_fetch_queues_nothing():
    """An empty poll is counted as a fetch but queues no batch."""
    q = queue.Queue(10)
    producer, metrics = make_producer(ListSource([]), q)
    assert producer.fetch_once() == 0
    assert q.empty() and metrics.counter("fetches") == 1


def test_drop_oldest_counts_every_dropped_record():
    """With drop_oldest, a full queue discards the oldest batch and counts batch and records."""
    q = queue.Queue(2)
    batches = [[{"id": i}] * (i + 1) for i in range(4)]  # sizes 1, 2, 3, 4
    producer, metrics = make_producer(ListSource(batches), q, policy="drop_oldest")
    for _ in range(4):
        producer.fetch_once()
    kept = [len(q.get_nowait().records) for _ in range(2)]
    assert kept == [3, 4]
    assert metrics.counter("batches_dropped") == 2
    assert metrics.counter("records_dropped") == 3
    assert metrics.counter("records_in") == 10


def test_block_policy_waits_and_measures_blocked_time():
    """With block, the producer waits for room; the time blocked is a counter."""
    q = queue.Queue(1)
    producer, metrics = make_producer(ListSource([[{"id": 1}], [{"id": 2}]]), q)
    producer.fetch_once()
    t = threading.Thread(target=producer.fetch_once)
    t.start()
    # The second fetch finds the queue full and says since when it waits for room.
    wait_until(lambda: producer.health.snapshot()["waiting_since"] is not None, within(),
               "the producer to wait on the full queue")
    assert t.is_alive()  # blocked on the full queue
    since = producer.health.snapshot()["waiting_since"]
    assert since <= time.time()
    held = 0.2  # keep the queue full this long before making room
    wait_until(lambda: time.time() - since >= held, within(held), "the hold")
    q.get_nowait()
    t.join(5)
    assert q.get_nowait().records == [{"id": 2}]
    assert metrics.counter("producer_blocked_seconds") >= held
    assert metrics.counter("records_dropped") == 0
    assert producer.health.snapshot()["waiting_since"] is None  # cleared once queued


def test_block_policy_drops_and_counts_when_stopping():
    """A producer stopped while blocked drops its batch, counted, instead of hanging."""
    q = queue.Queue(1)
    producer, metrics = make_producer(ListSource([[{"id": 1}], [{"id": 2}, {"id": 3}]]), q)
    producer.fetch_once()
    producer.stopping.set()
    assert producer.fetch_once() == 2
    assert metrics.counter("records_dropped") == 2 and metrics.counter("batches_dropped") == 1


def test_failed_fetch_updates_source_health():
    """A failing source is counted and tracked (consecutive failures, last error), not fatal."""
    q = queue.Queue(1)
    producer, metrics = make_producer(FailingSource("down"), q)
    producer.fetch_once()
    producer.fetch_once()
    health = producer.health.snapshot()
    assert health["consecutive_failures"] == 2 and "unreachable" in health["last_error"]
    assert metrics.counter("fetch_errors") == 2 and health["last_success"] is None


def test_unexpected_source_exception_is_a_failed_fetch(caplog):
    """A bug in a source (any exception) is logged with its traceback and the producer goes on."""
    q = queue.Queue(1)
    producer, metrics = make_producer(ListSource([ZeroDivisionError("boom"), [{"id": 1}]]), q)
    producer.fetch_once()
    producer.fetch_once()
    assert metrics.counter("fetch_errors") == 1 and q.qsize() == 1
    assert any(r.exc_info for r in caplog.records)
    assert producer.health.snapshot()["consecutive_failures"] == 0


def test_producer_keeps_its_schedule():
    """The producer polls about every `interval` seconds and stops promptly."""
    q = queue.Queue(1000)
    source = ListSource([[{"id": 1}]], loop=True)
    producer, _ = make_producer(source, q, interval=0.05)
    started = time.monotonic()
    producer.start()
    producer.start()  # idempotent
    wait_until(lambda: source.calls >= 5, within(5 * 0.05), "five polls")
    producer.request_stop()
    elapsed = time.monotonic() - started
    assert producer.stop(2)
    # Never faster than the schedule (a loaded machine may only make it slower): at most one
    # poll per interval, plus the first one at start.
    assert 5 <= source.calls <= elapsed / 0.05 + 1


def make_consumer(processor=None, q=None):
    metrics = Metrics()
    q = q or queue.Queue(10)
    consumer = Consumer(q, processor or RequiredFields(("id",)), RingBuffer(100), Quarantine(),
                        metrics)
    return consumer, q, metrics


def test_consumer_stores_accepted_and_quarantines_rejected():
    """handle() stores accepted records, quarantines rejections with reasons, counts both."""
    consumer, _, metrics = make_consumer()
    seen = []
    consumer.listeners.append(lambda batch, result: seen.append(len(result.accepted)))
    consumer.handle(Batch([{"id": 1}, {"x": 2}, "junk"], time.time(), "s", time.monotonic()))
    assert [r["id"] for _, r in consumer.buffer.snapshot()] == [1]
    reasons = [r.reasons[0]["rule"] for r in consumer.quarantine.recent()]
    assert sorted(reasons) == ["object", "required"]
    assert metrics.counter("records_accepted") == 1 and metrics.counter("records_rejected") == 2
    snap = metrics.snapshot()["histograms"]
    assert snap["batch_processing_seconds"]["count"] == 1
    assert snap["end_to_end_latency_seconds"]["count"] == 1
    assert seen == [1]


def test_consumer_counts_other_outcomes():
    """Outcomes reported by the processor become records_<outcome> counters."""
    class Dedup:
        def process(self, records, batch):
            return ProcessResult(records[:1], [], {"duplicate": len(records) - 1})

    consumer, _, metrics = make_consumer(Dedup())
    consumer.handle(Batch([{"id": 1}] * 3, time.time()))
    assert metrics.counter("records_duplicate") == 2 and metrics.counter("records_accepted") == 1


def test_crashed_consumer_restarts_and_loses_nothing():
    """A processor crash quarantines the batch, restarts the thread with backoff, and goes on."""
    class CrashOnce:
        def __init__(self):
            self.calls = 0

        def process(self, records, batch):
            self.calls += 1
            if self.calls == 1:
                raise RuntimeError("rule exploded")
            return ProcessResult(list(records))

    consumer, q, metrics = make_consumer(CrashOnce())
    consumer.start()
    q.put(Batch([{"id": 1}, {"id": 2}], time.time()))
    q.put(Batch([{"id": 3}], time.time()))
    assert wait_for(lambda: metrics.counter("records_accepted") == 1)
    assert consumer.stop(5)
    assert consumer.restarts == 1 and metrics.counter("thread_restarts") == 1
    assert metrics.counter("records_rejected") == 2
    assert consumer.restarting() and not consumer.restarting(within=0.0)  # crashed just now
    assert consumer.quarantine.recent()[0].reasons[0]["rule"] == "processing_error"


def test_supervised_thread_backs_off_between_restarts():
    """Repeated crashes are restarted with growing delays, and stop() ends the wait."""
    class Crasher(SupervisedThread):
        def __init__(self):
            super().__init__("crasher", Metrics(), backoff_max=0.2)
            self.times = []

        def loop(self):
            self.times.append(time.monotonic())
            raise ValueError("again")

    t = Crasher()
    t.start()
    assert wait_for(lambda: len(t.times) >= 4)
    assert t.stop(2) and not t.alive
    gaps = [b - a for a, b in zip(t.times, t.times[1:], strict=False)]
    # Restart k waits 0.05 × 2^k s, capped at backoff_max: each gap is at least its delay (a
    # busy machine only adds to a gap, so lower bounds are what the product guarantees).
    scheduled = [min(0.2, 0.05 * 2 ** k) for k in range(len(gaps))]
    assert all(gap >= delay - 0.005 for gap, delay in zip(gaps, scheduled, strict=True)), gaps
    assert t.restarts >= 3


def test_consumer_stop_drains_for_at_most_its_drain_time_then_ends_in_time():
    """stop(timeout, drain=) processes queued batches until the drain time is up, then the
    thread ends within timeout; what it did not reach stays queued (the runtime counts it)."""
    gate = threading.Event()  # never set: each batch takes 0.05 s

    class Slow:
        def process(self, records, batch):
            gate.wait(0.05)
            return ProcessResult(list(records))

    consumer, q, metrics = make_consumer(Slow(), queue.Queue(100))
    for i in range(100):
        q.put(Batch([{"id": i}], time.time()))
    consumer.start()
    assert consumer.stop(within(0.2), drain=0.2) is True and not consumer.alive
    assert 0 < metrics.counter("batches_processed") < 100
    assert metrics.counter("batches_processed") + q.qsize() == 100
    consumer.start()  # a restart has no drain deadline left: it takes the rest
    assert wait_for(lambda: q.empty())
    assert consumer.stop(within()) is True


def test_producer_stop_interrupts_a_source_that_is_waiting():
    """stop() ends a fetch blocked in the source (a retry wait, a slow read) through the
    source's interrupt(), so the producer thread ends within the timeout."""
    class Waiting(ListSource):
        def __init__(self):
            super().__init__([])
            self.woken = threading.Event()
            self.fetching = threading.Event()

        def fetch(self):
            self.fetching.set()
            self.woken.wait(60)  # a long Retry-After, until interrupted
            return []

        def interrupt(self):
            self.woken.set()

    source = Waiting()
    producer, _ = make_producer(source, queue.Queue(10))
    producer.start()
    assert source.fetching.wait(within())
    assert producer.stop(within()) is True and source.woken.is_set()


def test_idle_consumer_ticks_a_tickable_processor_only():
    """idle() calls tick() on a processor that declares it (Tickable) and skips one that does
    not."""
    class Windowed:
        ticks = 0

        def process(self, records, batch):
            return ProcessResult(list(records))

        def tick(self):
            self.ticks += 1
            return 0

    windowed = Windowed()
    make_consumer(windowed)[0].idle()
    make_consumer(RequiredFields(("id",)))[0].idle()  # nothing to tick: no error
    assert windowed.ticks == 1


# -- push sources: acknowledgement after storing, back-to-back fetches ------------------------

class PushSource(ListSource):
    """A push source: each scripted batch is a Delivery whose token is its index."""

    push = True

    def __init__(self, batches, fail_ack=False):
        super().__init__(batches)
        self.acked = []
        self.fail_ack = fail_ack

    def fetch(self):
        i = self.calls
        records = super().fetch()
        return Delivery(records, token=i) if i < len(self.batches) else records

    def ack(self, token):
        if self.fail_ack:
            raise ConnectionError("broker gone")
        self.acked.append(token)


def test_consumer_acknowledges_only_after_the_batch_is_stored():
    """The token reaches source.ack once the accepted records are in the ring and the
    rejected ones in the quarantine, not before."""
    seen = []
    consumer, _, metrics = make_consumer()

    def ack(token):
        seen.append((token, len(consumer.buffer), len(consumer.quarantine.recent())))

    consumer.ack = ack
    consumer.handle(Batch([{"id": 1}, {"x": 2}], time.time(), "s", ack="t1"))
    consumer.handle(Batch([{"id": 3}], time.time(), "s"))  # no token: nothing to acknowledge
    assert seen == [("t1", 1, 1)]


def test_consumer_acknowledges_a_batch_it_quarantined_after_a_crash():
    """A batch the processor crashed on is quarantined whole, so it is acknowledged too (it
    would otherwise come back for ever)."""
    class Crash:
        def process(self, records, batch):
            raise RuntimeError("rule exploded")

    acked = []
    consumer, _, _ = make_consumer(Crash())
    consumer.ack = acked.append
    try:
        consumer.handle(Batch([{"id": 1}], time.time(), ack="t"))
    except RuntimeError:
        pass
    assert acked == ["t"] and len(consumer.quarantine.recent()) == 1


def test_a_failed_acknowledgement_is_counted_not_raised(caplog):
    """An ack that raises is logged and counted (ack_errors); the consumer carries on."""
    source = PushSource([], fail_ack=True)
    consumer, _, metrics = make_consumer()
    consumer.ack = source.ack
    consumer.handle(Batch([{"id": 1}], time.time(), ack=7))
    assert metrics.counter("ack_errors") == 1 and metrics.counter("records_accepted") == 1
    assert "acknowledging a stored batch" in caplog.text


def test_producer_queues_the_token_with_the_last_batch_of_a_fetch():
    """A fetch split into several batches carries its token on the last one only, so it is
    acknowledged once every part is stored."""
    q = queue.Queue(10)
    source = PushSource([[{"id": i} for i in range(5)]])
    producer = Producer(source, q, Metrics(), SourceHealth(), interval=1, max_batch_records=2)
    producer.fetch_once()
    assert [(len(b.records), b.ack) for b in (q.get_nowait() for _ in range(3))] == \
        [(2, None), (2, None), (1, 0)]


def test_producer_acknowledges_an_empty_delivery_and_a_batch_dropped_by_policy():
    """A delivery with no record (every message refused) is acknowledged at once; a batch the
    drop_oldest policy discards is acknowledged as it is counted dropped."""
    q = queue.Queue(1)
    source = PushSource([[], [{"id": 1}], [{"id": 2}]])
    producer, metrics = make_producer(source, q, policy="drop_oldest")
    for _ in range(3):
        producer.fetch_once()
    assert source.acked == [0, 1] and q.get_nowait().ack == 2
    assert metrics.counter("records_dropped") == 1


def test_a_batch_dropped_at_shutdown_is_not_acknowledged():
    """Stopping with a full queue drops the waiting batch uncounted as stored: it is not
    acknowledged, so the far end delivers it again."""
    q = queue.Queue(1)
    q.put(Batch([{"id": 0}], time.time()))
    source = PushSource([[{"id": 1}]])
    producer, metrics = make_producer(source, q)
    producer.request_stop()
    producer.fetch_once()
    assert source.acked == [] and metrics.counter("records_dropped") == 1


def test_producer_fetches_a_push_source_back_to_back_and_a_failing_one_on_the_interval():
    """A push source's fetch waits for records itself, so after a success the producer calls
    it again at once; after a failure it waits the interval like any source."""
    q = queue.Queue(100)
    source = PushSource([[{"id": i}] for i in range(20)])
    producer, _ = make_producer(source, q, interval=3600)
    producer.start()
    try:
        assert wait_for(lambda: source.calls >= 20, within())
    finally:
        assert producer.stop(within())
    failing = PushSource([SourceError("down")] * 5)
    producer, _ = make_producer(failing, q, interval=3600)
    producer.start()
    try:
        assert wait_for(lambda: failing.calls >= 1, within())
    finally:
        assert producer.stop(within())
    assert failing.calls == 1  # the next call is an hour away


class Gate:
    """A processor whose batches wait for ``go`` (a batch under way, held open by the test)."""

    def __init__(self):
        self.go = threading.Event()
        self.inside = threading.Event()
        self.done = 0

    def process(self, records, batch):
        self.inside.set()
        self.go.wait(10)
        self.done += 1
        return ProcessResult(records, [])


def test_at_boundary_reads_between_batches_and_times_out_during_a_long_one():
    """A reader never runs while a batch is under way: it waits for the batch's end (the
    batch's records then counted), or gives up with TimeoutError after its timeout."""
    gate = Gate()
    consumer, _, metrics = make_consumer(gate)
    worker = threading.Thread(target=consumer.handle, args=(Batch([{"id": 1}], 0.0),))
    worker.start()
    assert gate.inside.wait(10)
    try:
        consumer.at_boundary(lambda: None, timeout=0.05)
        raise AssertionError("read during a batch")
    except TimeoutError as exc:
        assert "no batch boundary within 0.05 s" in str(exc)
    seen: list = []
    reader = threading.Thread(target=lambda: seen.append(
        consumer.at_boundary(lambda: metrics.counter("records_accepted"))))
    reader.start()
    gate.go.set()
    worker.join(10)
    reader.join(10)
    assert seen == [1] and gate.done == 1


def test_a_busy_consumer_lets_a_waiting_reader_in_at_the_next_boundary():
    """With batches always queued, a reader still gets its turn at the next boundary (a
    plain lock would let the consumer take it again first): within a few batches."""
    class Slow:
        done = 0

        def process(self, records, batch):
            Slow.done += 1
            time.sleep(0.002)  # a batch's work, holding the GIL part of the time
            return ProcessResult(records, [])

    consumer, q, _ = make_consumer(Slow(), queue.Queue())
    for _ in range(5000):
        q.put_nowait(Batch([{"id": 1}], 0.0))
    consumer.start()
    try:
        wait_until(lambda: Slow.done > 10, 10, "the consumer to be busy")
        for _ in range(20):
            before = Slow.done
            during = consumer.at_boundary(lambda: Slow.done)
            assert during - before <= 2, (before, during)  # the batch under way, at most
    finally:
        consumer.stop(5, drain=0)
