"""The producer and consumer threads (:class:`~.supervised.SupervisedThread`s; the
:class:`SourceHealth` of :mod:`.source_health` is importable from here too)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import SourceError
from ..logs import log_event
from ..metrics import Metrics
from ..models import Batch, ProcessResult, Rejection
from ..sources.base import Delivery, Source
from ..store.quarantine import Quarantine
from ..store.ring import RingBuffer
from ..threads import STOP_TIMEOUT
from .acks import HeldAcks, acknowledge
from .chain import Processor, Tickable, excerpt
from .source_health import SourceHealth
from .supervised import SupervisedThread

log = logging.getLogger("streamdash.pipeline")

BatchListener = Callable[[Batch, ProcessResult], None]
T = TypeVar("T")


def queue_gauges(metrics: Metrics, q: Any) -> None:
    """Set the queue's gauges: depth in batches and, for a :class:`~.batchqueue.BatchQueue`,
    records, bytes and fill (0–1, the highest of its three ratios)."""
    stats = getattr(q, "stats", None)
    if stats is None:
        metrics.set_gauge("queue_depth", q.qsize())
        return
    st = stats()
    metrics.set_gauge("queue_depth", st["depth"])
    metrics.set_gauge("queue_records", st["records"])
    metrics.set_gauge("queue_bytes", st["bytes"])
    metrics.set_gauge("queue_fill", st["fill"])


class Producer(SupervisedThread):
    """Calls ``source.fetch()`` every ``interval`` seconds and queues each batch.

    ``interval`` is seconds, or a function returning them (the runtime's effective interval,
    read again before each wait, so a server's ``Cache-Control`` hint applies to the next poll).

    ``policy`` says what happens when the queue is full: ``block`` waits (the time blocked is
    the ``producer_blocked_seconds`` counter) and ``drop_oldest`` discards the oldest queued
    batch, counting the batch and its records as dropped. Each time a batch finds the queue
    full, ``queue_full_<limit>`` counts which limit refused it (``batches``, ``records``,
    ``bytes``). A fetch of more than ``max_batch_records`` records (0: no limit) is queued as
    several batches of at most that many, so no single batch escapes the queue's bounds.

    A push source (``source.push``) is fetched again as soon as a fetch succeeds: its fetch
    waits for what arrives. Its acknowledgement token (a :class:`~..sources.base.Delivery`)
    travels with the last batch of the fetch; the producer itself acknowledges a fetch that
    held no record and a batch ``drop_oldest`` discarded (see ``Source.ack``), through
    ``self.ack`` — the source's, or a worker's :class:`~.acks.HeldAcks` (``self.held``),
    whose bound it waits on before reading the source.
    """

    def __init__(self, source: Source, out: queue.Queue, metrics: Metrics, health: SourceHealth,
                 *, interval: float | Callable[[], float], policy: str = "block",
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, backoff_max: float = 30.0,
                 max_batch_records: int = 0):
        super().__init__("producer", metrics, backoff_max, monotonic)
        self.source = source
        self.queue = out
        self.health = health
        self.interval = interval
        self.policy = policy
        self.clock = clock
        self.max_batch_records = max_batch_records
        #: Where acknowledgement tokens go: the source's ``ack``, or a worker's held ones.
        self.ack: Callable[[Any], None] = source.ack
        #: A worker's held acknowledgements: while at their bound the source is not read.
        self.held: HeldAcks | None = None

    def loop(self) -> None:
        next_due = self.monotonic()
        while not self.stopping.is_set():
            delay = next_due - self.monotonic()
            if delay > 0 and self.stopping.wait(delay):
                return
            if self.held is not None and self.held.full():
                self._wait_for_acks(self.held)
                continue
            self.fetch_once()
            if self.source.push and not self.health.consecutive_failures:
                next_due = self.monotonic()  # its fetch waited for what arrived: drain on
            else:
                # Keep the schedule; after a slow fetch, go again now rather than in a burst.
                next_due = max(next_due + self.current_interval(), self.monotonic())

    def _wait_for_acks(self, held: HeldAcks) -> None:
        """The held acknowledgements are at their bound (a worker whose state store has not
        taken them yet): read nothing until a write releases some, so the far end keeps the
        messages. Shown as waiting (``waiting_since``: the ``pipeline_backlogged`` alert)
        and timed in ``producer_blocked_seconds``."""
        began = self.monotonic()
        self.metrics.inc("acks_pending_full")
        log_event(log, logging.DEBUG, "acknowledgements pending at their bound: not reading "
                  "the source until the state is written", source=self.source.name,
                  **held.pending())
        self.health.waiting(self.clock())
        try:
            while not self.stopping.is_set() and not held.wait_for_room(0.1):
                pass
        finally:
            self.health.waiting(None)
            self.metrics.inc("producer_blocked_seconds", self.monotonic() - began)

    def request_stop(self) -> None:
        """Ask the loop to finish, and end the source's retry wait or slow read now (its
        ``interrupt()``, a no-op for sources that never wait) rather than after it."""
        super().request_stop()
        self.source.interrupt()

    def current_interval(self) -> float:
        """Seconds until the next poll is due (the interval, or what its function says now)."""
        return float(self.interval() if callable(self.interval) else self.interval)

    def fetch_once(self) -> int:
        """Fetch one batch and queue it; returns the number of records fetched."""
        started, wall = self.monotonic(), self.clock()
        try:
            records = self.source.fetch()
        except Exception as exc:
            self._failed(wall, exc)
            return 0
        took = self.monotonic() - started
        self.health.success(wall)
        n = len(records)
        self.metrics.add_many({"fetches": 1, "records_in": n, "batches_in": 1 if n else 0})
        self.metrics.observe("fetch_seconds", took)
        self.metrics.set_gauge("last_fetch_at", wall)
        log_event(log, logging.DEBUG, "fetched", source=self.source.name, records=n,
                  seconds=round(took, 4))
        token = records.token if isinstance(records, Delivery) else None
        if token is not None and self.held is not None:
            self.held.track(token)  # waits for its acknowledgement from now on
        if not n and token is not None:
            acknowledge(self.ack, token, self.metrics)  # nothing to store
        step = self.max_batch_records or n or 1
        for i in range(0, n, step):
            last = token if i + step >= n else None  # acknowledged once all of it is stored
            if not self.put(Batch(records[i:i + step], wall, self.source.name, started, last)):
                rest = n - i - step  # stopping with a full queue: the rest goes too, counted
                if rest > 0:
                    self.metrics.add_many({"batches_dropped": -(-rest // step),
                                           "records_dropped": rest})
                break
        return n

    def _failed(self, wall: float, exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        self.health.failure(wall, reason)
        self.metrics.inc("fetch_errors")
        if isinstance(exc, SourceError):
            log_event(log, logging.WARNING, "fetch failed", source=self.source.name,
                      kind=exc.kind, reason=str(exc),
                      consecutive_failures=self.health.consecutive_failures)
        else:  # a bug in the source: keep the traceback
            log.error("fetch failed unexpectedly", exc_info=True,
                      extra={"ctx": {"source": self.source.name, "reason": reason}})

    def put(self, batch: Batch) -> bool:
        """Queue a batch under the configured policy; False when it had to be dropped."""
        if self.policy == "drop_oldest":
            self._put_dropping_oldest(batch)
            return True
        try:
            self.queue.put_nowait(batch)
        except queue.Full as exc:
            self._count_full(exc)
            return self._put_blocking(batch)
        finally:
            queue_gauges(self.metrics, self.queue)
        return True

    def _count_full(self, exc: queue.Full) -> None:
        limit = exc.args[0] if exc.args else "batches"  # a plain queue.Queue names none
        self.metrics.inc(f"queue_full_{limit}")

    def _put_blocking(self, batch: Batch) -> bool:
        began = self.monotonic()
        log_event(log, logging.WARNING, "queue full; producer waiting", source=self.source.name,
                  depth=self.queue.qsize())
        self.health.waiting(self.clock())
        try:
            while True:
                try:
                    self.queue.put(batch, timeout=0.1)
                    return True
                except queue.Full:
                    if self.stopping.is_set():
                        self.metrics.add_many({"batches_dropped": 1,
                                               "records_dropped": len(batch.records)})
                        log_event(log, logging.WARNING, "batch dropped at shutdown (queue full)",
                                  records=len(batch.records))
                        return False
        finally:
            self.health.waiting(None)
            self.metrics.inc("producer_blocked_seconds", self.monotonic() - began)

    def _put_dropping_oldest(self, batch: Batch) -> None:
        while True:
            try:
                self.queue.put_nowait(batch)
                return
            except queue.Full as exc:
                self._count_full(exc)
                try:
                    old = self.queue.get_nowait()
                except queue.Empty:
                    continue
                self.metrics.add_many({"batches_dropped": 1, "records_dropped": len(old.records)})
                log_event(log, logging.WARNING, "queue full; dropped oldest batch",
                          source=old.source, records=len(old.records))
                if old.ack is not None:  # dropped by policy, counted: not to come again
                    acknowledge(self.ack, old.ack, self.metrics)


class Consumer(SupervisedThread):
    """Takes batches off the queue, runs the processor, stores results and updates metrics.

    ``ack`` (the source's :meth:`~..sources.base.Source.ack`, or a worker's
    :meth:`~.acks.HeldAcks.hold`) receives a batch's acknowledgement token once the ring
    buffer and the quarantine took all of its records.
    :meth:`at_boundary` reads between two batches (or idle ticks), never during one.
    """

    def __init__(self, inbox: queue.Queue, processor: Processor, buffer: RingBuffer,
                 quarantine: Quarantine, metrics: Metrics, *,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, backoff_max: float = 30.0,
                 ack: Callable[[Any], None] | None = None):
        super().__init__("consumer", metrics, backoff_max, monotonic)
        self.ack = ack
        self.queue = inbox
        self.processor = processor
        self.buffer = buffer
        self.quarantine = quarantine
        self.clock = clock
        self.listeners: list[BatchListener] = []
        self.drain_deadline: float | None = None
        # A lock alone is not fair: a busy consumer would take it again before a waiting
        # reader woke. Readers announce themselves; the consumer lets them in first.
        self._boundary = threading.Lock()
        self._readers = 0
        self._let_in = threading.Condition(threading.Lock())

    def at_boundary(self, read: Callable[[], T], timeout: float | None = None) -> T:
        """``read()`` between two batches (or ticks), never during one: what it reads of the
        processor, the stores and the counters agrees (the state publisher reads the keyed
        state and the counters it writes so). The next batch waits for it (readers go
        first): ``read`` must be quick. ``TimeoutError`` when the batch under way did not
        end within ``timeout`` seconds."""
        with self._let_in:
            self._readers += 1
        try:
            if not self._boundary.acquire(timeout=-1 if timeout is None else timeout):
                raise TimeoutError(f"no batch boundary within {timeout} s")
            try:
                return read()
            finally:
                self._boundary.release()
        finally:
            with self._let_in:
                self._readers -= 1
                self._let_in.notify_all()

    def _enter(self) -> None:
        """Start a batch or tick once waiting readers have read (a reader coming in just
        after the unlocked check waits for this one batch)."""
        if self._readers:
            with self._let_in:
                self._let_in.wait_for(lambda: not self._readers)
        self._boundary.acquire()

    def start(self) -> None:
        """Start taking batches (after a stop, with no drain deadline again)."""
        if not self.alive:
            self.drain_deadline = None
        super().start()

    def stop(self, timeout: float = STOP_TIMEOUT, *, drain: float | None = None) -> bool:
        """Finish what is queued for at most ``drain`` seconds (default: ``timeout``), then
        end; True when the thread ended within ``timeout``."""
        self.drain_deadline = self.monotonic() + (timeout if drain is None else drain)
        return super().stop(timeout)

    def loop(self) -> None:
        while True:
            if self.stopping.is_set() and self.drain_deadline is not None \
                    and self.monotonic() >= self.drain_deadline:
                return
            try:
                batch = self.queue.get(timeout=0.1)
            except queue.Empty:
                if self.stopping.is_set():
                    return
                self.idle()
                continue
            self.handle(batch)

    def _stored(self, batch: Batch) -> None:
        """Every record of ``batch`` is in the ring buffer or the quarantine: acknowledge it."""
        if batch.ack is not None and self.ack is not None:
            acknowledge(self.ack, batch.ack, self.metrics)

    def idle(self) -> None:
        """The queue is empty: let the processor close what is due in processing time (idle
        windows), when it is :class:`~streamdash.pipeline.chain.Tickable`."""
        if isinstance(self.processor, Tickable):
            self._enter()
            try:
                self.processor.tick()
            finally:
                self._boundary.release()

    def handle(self, batch: Batch) -> ProcessResult:
        """Process one batch: store accepted records, quarantine rejections, count everything."""
        self._enter()
        try:
            return self._handle(batch)
        finally:
            self._boundary.release()

    def _handle(self, batch: Batch) -> ProcessResult:
        started = self.monotonic()
        # The records this batch will push out of the ring are freed first, so its own
        # records are built in the memory they leave, still in the CPU cache.
        self.buffer.make_room(len(batch.records))
        try:
            result = self.processor.process(batch.records, batch)
        except Exception as exc:
            # Nothing is lost: the whole batch goes to quarantine with the reason, then the
            # exception restarts this thread (with backoff) so a broken rule cannot spin.
            reason = {"field": None, "rule": "processing_error", "value": excerpt(str(exc))}
            self.quarantine.add_many(Rejection(r, [reason], batch.source, self.clock())
                                     for r in batch.records)
            self.metrics.add_many({"records_rejected": len(batch.records), "batches_processed": 1})
            self._stored(batch)  # quarantined is stored: it must not come back forever
            raise
        self.buffer.extend(result.accepted)
        if result.rejected:
            self.quarantine.add_many(result.rejected)
        self._stored(batch)
        stored_wall, done = self.clock(), self.monotonic()
        counts = {"records_accepted": len(result.accepted),
                  "records_rejected": len(result.rejected), "batches_processed": 1}
        for outcome, n in result.counts.items():
            counts[f"records_{outcome}"] = n
        self.metrics.add_many(counts)
        self.metrics.observe("batch_processing_seconds", done - started)
        if batch.fetched_mono:
            self.metrics.observe("end_to_end_latency_seconds", done - batch.fetched_mono)
        self.metrics.set_gauge("last_stored_at", stored_wall)
        queue_gauges(self.metrics, self.queue)
        self.metrics.set_gauge("buffer_size", len(self.buffer))
        log_event(log, logging.DEBUG, "batch processed", source=batch.source,
                  records=len(batch.records), accepted=len(result.accepted),
                  rejected=len(result.rejected), **result.counts)
        for listener in self.listeners:
            try:
                listener(batch, result)
            except Exception:
                log.exception("batch listener failed", extra={"ctx": {"listener": repr(listener)}})
        return result
