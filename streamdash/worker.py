"""``streamdash worker``: sources → pipeline → quality → state in Redis, and no dashboard.

A :class:`Worker` is a :class:`~streamdash.runtime.Runtime` (with its SQLite history when a
``data_dir`` is set) whose state a :class:`~streamdash.state.publisher.StatePublisher` writes to
Redis after each batch, for any number of web processes (``streamdash web``) to serve. Its
only HTTP is the health probes on a side port (``worker.health_host``/``health_port``,
:mod:`streamdash.probe`). It needs ``state.backend: redis``: with ``memory`` nothing could read
what it ingests, so it refuses to start.

One worker writes a stream at a time: the worker runs its pipeline only while it holds the
stream's lease (:class:`~streamdash.state.lease.LeaseKeeper`, ``state.lease_ttl``). Another
worker started for the same stream waits as a standby (``/health`` says so, 503) and takes the
stream over within ``lease_ttl`` when the holder dies, carrying on from Redis its counters
and its keyed state — dedup keys, the watermark, open windows — which the holder saves with
every write, in the same transaction as the counters (:mod:`streamdash.state.keyed`), and
which the new worker gives its pipeline before the first batch.

What a takeover loses is exactly what the dead worker had fetched but not yet written: the
records it processed after its last write (at most one ``flush_interval`` of batches while
Redis answers, plus the batch in flight) and those still queued. None of them is in Redis
as processed — neither in the counters nor in the keyed state; those fetched before the last
write are in its ``records_in`` and counted ``records_dropped`` on adoption, so the accounting
identity holds, and those fetched after it are in no counter. A source that
delivers them again (a polled API, a replay from its start, a broker that redelivers what was
not acknowledged) meets the restored dedup keys: what the dead worker wrote is dropped as a
duplicate, what it had not written is accepted once, and its values go to the restored open
windows. A source that does not deliver them again loses them. A push source does: a worker
acknowledges its messages only once a write holding them went through
(:mod:`streamdash.pipeline.acks`, at most ``state.max_pending_acks`` waiting), so what the
dead worker had not written is still unacknowledged at the broker and comes again. Also lost:
the dead worker's position in a polled source, and keyed state over ``state.max_keyed_bytes``
(refused and counted, not saved: the takeover then starts without it and says so).

:func:`run_worker` runs one until SIGTERM or Ctrl-C, then stops it as the web server stops its
runtime: stop polling, drain the queue (at most :data:`DRAIN_TIMEOUT` s), take the last
snapshot, write the last state, flush the history.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Mapping
from typing import Any

from .config import Settings
from .errors import ConfigError
from .logs import log_event
from .probe import HealthServer
from .redact import output_redactor
from .runtime import Runtime
from .sources import Source
from .state import MemoryStream
from .state.build import attach_publisher
from .state.lease import LeaseKeeper
from .threads import Managed

log = logging.getLogger("streamdash.worker")

#: Seconds the worker gives the consumer to finish queued batches at shutdown (as the web's).
DRAIN_TIMEOUT = 4.0


def require_redis(settings: Settings) -> None:
    """``ConfigError`` unless ``state.backend`` is ``redis`` (what a worker writes to)."""
    if settings.model.state.backend != "redis":
        raise ConfigError("state.backend", "a worker writes its state to Redis for web "
                                           "processes to serve: set state.backend: redis "
                                           "and state.url (or REDIS_URL)")


def build_worker(settings: Settings, source: Source | None = None, *,
                 environ: Mapping[str, str] | None = None) -> Any:
    """The worker a config needs: one stream → :class:`Worker` (a standby when another holds
    the stream); several → :class:`~streamdash.spread.SpreadWorker` (spreads them with the
    other workers). ``source`` (tests) replaces a single stream's source."""
    if settings.multi:
        from .spread import SpreadWorker

        return SpreadWorker(settings, environ=environ)
    return Worker(settings, source, environ=environ)


class Worker(Managed):
    """One pipeline writing its state to Redis, with its health on a side port."""

    def __init__(self, settings: Settings, source: Source | None = None, *,
                 environ: Mapping[str, str] | None = None):
        require_redis(settings)
        if settings.multi:  # several streams are spread by streamdash.spread.SpreadWorker
            raise ConfigError("streams", f"a Worker runs one stream; this config declares "
                                         f"{len(settings.stream_names())}: build_worker() "
                                         "spreads them")
        self.runtime = Runtime(settings, source)
        publisher = attach_publisher(self.runtime, settings, environ, hold_acks=True)
        assert publisher is not None  # the backend is redis
        self.publisher = publisher
        self.lost = threading.Event()  # set when another worker took the stream
        self._life = threading.Lock()  # a take-over and a stop never cross
        self._stopping = False
        self.lease = LeaseKeeper(publisher.client, publisher.keys, publisher.worker_id,
                                 settings.model.state.lease_ttl, on_acquired=self._take,
                                 on_lost=self.lost.set, resume=publisher.wrote_last,
                                 url=publisher.url)
        publisher.may_write = lambda: self.lease.held
        publisher.lease = self.lease.describe
        redactor = output_redactor(settings.as_dict(), self.runtime.source, environ)
        params = settings.model.worker
        self.health = HealthServer(WorkerStream(self), params.health_host,
                                   params.health_port, redactor)

    def _take(self) -> None:
        """The lease is ours: carry on the stream's counters and keyed state (dedup keys,
        watermark, open windows), then start the pipeline — which thus sees the restored
        state before its first batch."""
        with self._life:
            if self._stopping or self.runtime.running:  # taken back after a loss: stopping
                return
            self.publisher.adopt()
            self.runtime.start()

    def start(self) -> None:
        """Serve the probes and go for the lease (the pipeline starts once it is held)."""
        self.health.start()
        self.lease.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the pipeline (drain at most ``timeout`` s, write the last state while still
        holding the lease), then give the lease up, stop the probes and the connections;
        True when everything ended in time."""
        with self._life:
            self._stopping = True  # no take-over from here on
        ended = self.runtime.stop(timeout)
        ended = self.lease.stop() and ended
        ended = self.health.stop() and ended
        self.publisher.client.close()
        return ended

    def log_fields(self) -> dict[str, Any]:
        """What the start line logs."""
        return {"stream": self.publisher.keys.stream, "state": self.publisher.status()["url"],
                "health": f"{self.health.url}/health", "worker": self.publisher.worker_id}


class WorkerStream(MemoryStream):
    """The worker's own state for its probes: a standby says it waits, and for whom."""

    def __init__(self, worker: Worker):
        super().__init__(worker.runtime)
        self.worker = worker

    def health(self) -> dict[str, Any]:
        report = super().health()
        if not self.runtime.running and not self.worker.lost.is_set():
            holder = self.worker.lease.holder()
            report["reasons"] = [f"standby: stream '{self.name}' is written by worker "
                                 f"{holder or '(none yet)'}; this one takes it over if that "
                                 "one stops", *report["reasons"]]
        return report


def run_worker(settings: Settings, *, environ: Mapping[str, str] | None = None,
               source: Source | None = None, worker: Any = None) -> int:
    """Run a worker (``worker``, else :func:`build_worker`'s) until SIGTERM or Ctrl-C;
    0 after a clean stop, 1 when something overstayed its stop (named in the log)."""
    from .gc_tuning import tune_for_streaming

    worker = worker or build_worker(settings, source, environ=environ)
    stopping = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        tune_for_streaming()
        worker.start()
        log_event(log, logging.INFO, "worker started", **worker.log_fields())
        while not stopping.wait(0.2) and not worker.lost.is_set():
            pass
        log_event(log, logging.INFO, "worker stopping")
        ended = worker.stop(DRAIN_TIMEOUT)
        return 0 if ended and not worker.lost.is_set() else 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
