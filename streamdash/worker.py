"""``streamdash worker``: sources → pipeline → quality → state in Redis, and no dashboard.

A :class:`Worker` is a :class:`~streamdash.runtime.Runtime` (with its SQLite history when a
``data_dir`` is set) whose state a :class:`~streamdash.state.publisher.StatePublisher` writes to
Redis after each batch, for any number of web processes (``streamdash web``) to serve. Its
only HTTP is the health probes on a side port (``worker.health_host``/``health_port``,
:mod:`streamdash.probe`). It needs ``state.backend: redis``: with ``memory`` nothing could read
what it ingests, so it refuses to start.

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
from .threads import Managed

log = logging.getLogger("streamdash.worker")

#: Seconds the worker gives the consumer to finish queued batches at shutdown (as the web's).
DRAIN_TIMEOUT = 4.0


class Worker(Managed):
    """One pipeline writing its state to Redis, with its health on a side port."""

    def __init__(self, settings: Settings, source: Source | None = None, *,
                 environ: Mapping[str, str] | None = None):
        if settings.model.state.backend != "redis":
            raise ConfigError("state.backend", "a worker writes its state to Redis for web "
                                               "processes to serve: set state.backend: redis "
                                               "and state.url (or REDIS_URL)")
        self.runtime = Runtime(settings, source)
        publisher = attach_publisher(self.runtime, settings, environ)
        assert publisher is not None  # the backend is redis
        self.publisher = publisher
        redactor = output_redactor(settings.as_dict(), self.runtime.source, environ)
        params = settings.model.worker
        self.health = HealthServer(MemoryStream(self.runtime), params.health_host,
                                   params.health_port, redactor)

    def start(self) -> None:
        """Start the pipeline (and the publisher with it), then the health probes."""
        self.runtime.start()
        self.health.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the pipeline (drain at most ``timeout`` s), the probes, the connections;
        True when everything ended in time."""
        ended = self.runtime.stop(timeout)
        ended = self.health.stop() and ended
        self.publisher.client.close()
        return ended


def run_worker(settings: Settings, *, environ: Mapping[str, str] | None = None,
               source: Source | None = None) -> int:
    """Run a worker until SIGTERM or Ctrl-C; 0 after a clean stop, 1 when something
    overstayed its stop (named in the log)."""
    from .gc_tuning import tune_for_streaming

    worker = Worker(settings, source, environ=environ)
    stopping = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        tune_for_streaming()
        worker.start()
        log_event(log, logging.INFO, "worker started", stream=worker.publisher.keys.stream,
                  state=worker.publisher.status()["url"], health=f"{worker.health.url}/health",
                  worker=worker.publisher.worker_id)
        while not stopping.wait(1.0):
            pass
        log_event(log, logging.INFO, "worker stopping")
        return 0 if worker.stop(DRAIN_TIMEOUT) else 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
