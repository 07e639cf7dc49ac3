"""The Runtime owns and wires the pipeline: source, queue, threads, stores and metrics."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from ._version import __version__
from .config import Settings
from .events import EventBus
from .logs import log_event
from .metrics import Metrics
from .pipeline import Flushable, Processor, build_processor
from .pipeline.batchqueue import LIMITS, BatchQueue
from .pipeline.workers import BatchListener, Consumer, Producer, SourceHealth
from .quality.settings import build_monitor
from .reporter import Reporter, count_nulls
from .sources import Source, build_source, poll_interval
from .sources.cadence import Cadence
from .status import Status, judge
from .store.history import StorageUnavailable, build_history, disabled_status, storage_options
from .store.quarantine import Quarantine
from .store.recent import RecentLog
from .store.ring import RingBuffer
from .threads import Managed

log = logging.getLogger("streamdash.runtime")


class Runtime(Managed):
    """One running pipeline: ``start()`` it, read its snapshots, ``stop()`` it.

    Collaborators are injected with sensible defaults (source from the settings, the configured
    processor, real clocks), so tests can pass their own. A :class:`~streamdash.threads.Service`:
    ``start()`` and ``stop()`` are idempotent, ``stop()`` says whether every thread ended in
    time; the runtime is also a context manager.
    """

    def __init__(self, settings: Settings | None = None, source: Source | None = None,
                 processor: Processor | None = None, *, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic):
        self.settings = settings or Settings()
        self.source = source or build_source(self.settings)
        self.clock = clock
        self.monotonic = monotonic
        self.metrics = Metrics()
        self.events = EventBus()
        self.buffer = RingBuffer(self.settings.get("buffer.capacity"))
        self.quarantine = Quarantine(events=self.events)  # publishes on ``rejections``
        # Bounded in-memory views for the dashboard and API, fed through the event bus.
        self.ingest_errors = RecentLog(500)
        self.windows = RecentLog(2000)
        self.late = RecentLog(1000)
        self.events.subscribe("ingest_error", self.ingest_errors.extend_from)
        # Every failed attempt, retries included (fetch_errors counts only polls that gave up).
        self.events.subscribe("ingest_error", self._count_ingest_error)
        self.events.subscribe("window", self.windows.extend_from)
        self.events.subscribe("late", self.late.extend_from)
        # Network sources report every failed attempt; they publish on our bus when bound.
        self.source.bind_events(self.events)
        self.queue = BatchQueue(self.settings.get("queue.maxsize"),
                                self.settings.get("queue.max_records"),
                                self.settings.get("queue.max_bytes"))
        self.processor = processor or build_processor(
            self.settings, self.source.hints, source_schema=self.source.schema,
            publish=self.events.publish, clock=clock, monotonic=monotonic)
        self.source_health = SourceHealth()
        # The one effective interval (configured, the source's minimum, the server's hint):
        # the producer polls at it and everything that judges freshness measures against it.
        poll_interval(self.settings.interval, self.source)  # warns when the minimum raises it
        self.cadence = Cadence(self.settings.interval, self.source)
        backoff_max = self.settings.get("runtime.restart_backoff_max")
        self.producer = Producer(self.source, self.queue, self.metrics, self.source_health,
                                 interval=self.cadence.current,
                                 policy=self.settings.get("queue.policy"), clock=clock,
                                 monotonic=monotonic, backoff_max=backoff_max,
                                 max_batch_records=self.settings.get("queue.max_batch_records"))
        self.consumer = Consumer(self.queue, self.processor, self.buffer, self.quarantine,
                                 self.metrics, clock=clock, monotonic=monotonic,
                                 backoff_max=backoff_max, ack=self.source.ack)
        # Data-quality rules and alerts (``alerts`` settings); its read API is documented on
        # QualityMonitor. It never blocks the consumer: the listener only counts.
        self.monitor = build_monitor(self.settings, metrics=self.metrics,
                                     source_health=self.source_health, events=self.events,
                                     time_field=self.source.hints.time_field,
                                     source_name=self.source.name, clock=clock,
                                     fetch_interval=self.cadence.current,
                                     snapshot=self.source.hints.snapshot_span > 0)
        self.add_batch_listener(self.monitor.observe_batch)
        # Periodic metrics snapshots and the history (SQLite in the data_dir, or PostgreSQL):
        # its event-bus subscribers only enqueue, its own thread writes, so the pipeline never
        # waits on a database.
        storage = storage_options(self.settings.section("storage"))
        self.history = build_history(self.settings, storage, clock=clock, monotonic=monotonic)
        if self.history is not None:
            for topic, subscriber in self.history.subscriptions().items():
                self.events.subscribe(topic, subscriber)
            self._restore_windows()
        self.reporter = Reporter(self.metrics, storage.snapshot_interval,
                                 sink=self.history.record_snapshot if self.history else None,
                                 summary_interval=self.settings.get("log.summary_interval"),
                                 source=self.source.name, clock=clock, monotonic=monotonic)
        self.consumer.listeners.append(count_nulls(self.metrics))
        self.metrics.set_gauge("queue_capacity", self.queue.maxsize)
        self.metrics.set_gauge("buffer_capacity", self.buffer.capacity)
        # Services following this runtime's state from outside it (the Redis state publisher):
        # started last, stopped after the reporter's final snapshot, their status in health.
        self._attached: dict[str, Any] = {}
        self.started_at: float | None = None
        self._lifecycle = threading.Lock()
        self._running = False

    def _restore_windows(self) -> None:
        """Refill the recent-windows view from the history, so the dashboard's window chart
        and ``/api/windows`` show the last windows of an earlier run after a restart."""
        assert self.history is not None
        try:
            rows = self.history.reader.events("windows", 0.0, self.clock(),
                                              self.windows.capacity)
        except StorageUnavailable:  # first run, or unreadable: the writer reports the latter
            return
        self.windows.restore(row["data"] for row in reversed(rows)
                             if isinstance(row.get("data"), dict))

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start the consumer, then the producer; does nothing when already running."""
        with self._lifecycle:
            if self._running:
                return
            self._running = True
            self.started_at = self.clock()
            if self.history is not None:
                self.history.start()
            self.consumer.start()
            self.producer.start()
            self.monitor.start()
            self.reporter.start()
            for service in self._attached.values():
                service.start()
            log_event(log, logging.INFO, "runtime started", source=self.source.name,
                      kind=self.source.kind, interval=self.settings.interval,
                      version=__version__)

    def stop(self, timeout: float | None = None) -> bool:
        """Stop polling, let the consumer drain the queue for at most ``timeout`` seconds
        (default ``runtime.drain_timeout``), stop the monitor, the reporter and the history.

        Every service is joined, each within its own bound; returns True when all of them
        ended in time (and the history wrote everything queued), else logs which did not.
        Batches still queued when the drain time runs out are counted as dropped. A second
        call does nothing and returns True.
        """
        with self._lifecycle:
            if not self._running:
                return True
            self._running = False
            drain = self.settings.get("runtime.drain_timeout") if timeout is None else timeout
            # In order: nothing new comes in, what came in is processed, then its results are
            # judged, snapshotted and written. The producer's stop also interrupts its source.
            overstayed = [] if self.producer.stop(drain + 5) else ["producer"]
            if not self.consumer.stop(drain + 5, drain=drain):
                overstayed.append("consumer")
            if isinstance(self.processor, Flushable) and not self.consumer.alive:
                try:
                    # emit the windows still open: the stream is over (at a batch boundary,
                    # as the state publisher may be reading the keyed state right now)
                    self.consumer.at_boundary(self.processor.flush)
                except Exception:
                    log.exception("flushing the processor's open windows failed")
            if not self.monitor.stop(2):  # a hanging webhook receiver must not hold shutdown
                overstayed.append("monitor")
            left = self._drop_queued()
            # The final snapshot, then the history flushes it and everything queued.
            if not self.reporter.stop():
                overstayed.append("reporter")
            if self.history is not None and not self.history.stop():
                overstayed.append("history")
            for name, service in self._attached.items():  # they write the final figures
                if not service.stop():
                    overstayed.append(name)
            try:
                self.source.close()
            except Exception:
                log.exception("closing the source failed")
            if overstayed:
                log_event(log, logging.WARNING, "services did not stop in time",
                          services=",".join(overstayed), source=self.source.name)
            log_event(log, logging.INFO, "runtime stopped", source=self.source.name,
                      dropped_at_shutdown=left, **self.counts())
            return not overstayed

    def _drop_queued(self) -> int:
        dropped = 0
        while True:
            try:
                batch = self.queue.get_nowait()
            except queue.Empty:
                break
            dropped += len(batch.records)
            self.metrics.add_many({"batches_dropped": 1, "records_dropped": len(batch.records)})
        self.metrics.set_gauge("queue_depth", 0)
        return dropped

    def _queue_full_counts(self) -> dict[str, int]:
        """How often a batch found the queue full, per limit (``batches``/``records``/``bytes``)."""
        c = self.metrics.snapshot()["counters"]
        return {n: int(c.get(f"queue_full_{n}", 0)) for n in LIMITS}

    def queue_fill(self) -> float:
        """How full the queue is (0–1): the highest of its batch, record and byte ratios."""
        return self.queue.fill()

    def _count_ingest_error(self, _error: dict[str, Any]) -> None:
        self.metrics.inc("ingest_errors")

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        return self._running

    def attach(self, name: str, service: Any) -> None:
        """Run ``service`` with this runtime: a :class:`~streamdash.threads.Service` with a
        ``status() -> {"ok": bool, "error": …}`` (the state publisher). It starts after the
        pipeline, stops after the final metrics snapshot, shows in ``health()`` under
        ``components.<name>`` and degrades the status while it is not ok."""
        self._attached[name] = service

    def add_batch_listener(self, listener: BatchListener) -> None:
        """Call ``listener(batch, result)`` after every processed batch (consumer thread)."""
        self.consumer.listeners.append(listener)

    # -- snapshots ---------------------------------------------------------------------------
    def metric_history(self, names: list[str], since: float, until: float,
                       limit: int = 10_000, *, step: float = 0.0,
                       peak: tuple[str, ...] = ()) -> dict[str, list[tuple[float, Any]]]:
        """Snapshot values ``name → [(ts, value), …]`` oldest first (``reporter.SNAPSHOT_FIELDS``).

        From the history when there is one (so earlier runs show after a restart; raises
        ``StorageUnavailable`` when it cannot be read), else from the in-memory recent snapshots.
        With ``step`` > 0 the database averages the snapshots per ``step`` seconds (``peak``
        names take the maximum), so a long range stays a bounded answer (``HistoryReader.
        metric_buckets``); the in-memory snapshots (at most 720) come as they are.
        """
        if self.history is not None:
            if step > 0:
                return self.history.reader.metric_buckets(names, since, until, step, peak)
            return self.history.reader.metrics(names, since, until, limit)
        return self.reporter.series(names, since, until, limit)

    def counts(self) -> dict[str, int]:
        """Record counts by outcome (``in``, ``accepted``, ``rejected`` … ``dropped``)."""
        c = self.metrics.snapshot()["counters"]
        names = ("in", "accepted", "rejected", "duplicate", "filtered", "late", "dropped")
        return {n: int(c.get(f"records_{n}", 0)) for n in names}

    def fetch_interval(self) -> float:
        """The effective interval in seconds (see ``sources/cadence.py``)."""
        return self.cadence.current()

    def status(self, storage: dict[str, Any] | None = None) -> Status:
        """The status by the one policy (``status.judge``), with the reasons for it."""
        src = self.source_health.snapshot()
        if storage is None:
            storage = self.history.status() if self.history is not None else disabled_status()
        threads = (self.producer, self.consumer)
        problems = [str(s.get("error") or "not writing") for s in
                    (service.status() for service in self._attached.values()) if not s["ok"]]
        return judge(running=self._running,
                     threads_alive=all(t.alive for t in threads),
                     firing=self.monitor.active(),
                     source_failures=src["consecutive_failures"],
                     restarting=[t.name for t in threads if t.restarting()],
                     queue_fill=self.queue_fill(),
                     storage_error=None if storage["ok"] else
                     str(storage.get("error") or "not writing"),
                     state_error="; ".join(problems) or None)

    def health(self) -> dict[str, Any]:
        """Status (``ok`` / ``degraded`` / ``down``, see ``status.py``) with its reasons, the
        effective interval and the state of every component."""
        src = self.source_health.snapshot()
        q = self.queue.stats()
        storage = self.history.status() if self.history is not None else disabled_status()
        status = self.status(storage)
        now = self.clock()
        return {
            "status": status.state,
            "reasons": list(status.reasons),
            "firing": list(status.firing),
            "interval_s": self.cadence.current(),
            "version": __version__,
            "uptime_s": round(now - self.started_at, 3) if self.started_at else 0.0,
            "components": {
                "producer": {"alive": self.producer.alive, "restarts": self.producer.restarts},
                "consumer": {"alive": self.consumer.alive, "restarts": self.consumer.restarts},
                "source": {**self.source.describe(), **src, "interval": self.cadence.describe()},
                "queue": {**q, "full": self._queue_full_counts()},
                "buffer": {"size": len(self.buffer), "capacity": self.buffer.capacity},
                "storage": storage,
                "alerts": self.monitor.describe(),
                **{name: service.status() for name, service in self._attached.items()},
            },
        }
