"""A stoppable thread whose loop is restarted, with backoff, when it crashes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ..metrics import Metrics
from ..threads import Background, ThreadRunner

log = logging.getLogger("streamdash.pipeline")


class SupervisedThread(Background):
    """A stoppable thread whose loop is restarted, with exponential backoff, when it crashes.

    Subclasses implement :meth:`loop`, which must return soon after :attr:`stopping` is set
    (wait on it, or use ``queue.get(timeout=…)``). A :class:`~streamdash.threads.Service`:
    ``start()`` and ``stop(timeout)`` are idempotent, ``stop`` joins.
    """

    def __init__(self, name: str, metrics: Metrics, backoff_max: float = 30.0,
                 monotonic: Callable[[], float] = time.monotonic):
        self.name = name
        self.metrics = metrics
        self.backoff_max = backoff_max
        self.monotonic = monotonic
        self.restarts = 0
        self.crashed_at: float | None = None  # monotonic time of the last crash
        self._runner = ThreadRunner(name, self._run)
        self.stopping = self._runner.stopping

    def loop(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def restarting(self, within: float = 60.0) -> bool:
        """True when the loop crashed less than ``within`` seconds ago (it is being restarted
        or has just been)."""
        return self.crashed_at is not None and self.monotonic() - self.crashed_at < within

    def _run(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            began = self.monotonic()
            try:
                self.loop()
                return
            except Exception:
                # A crash must not end ingestion: log it whole, count it, back off, go again.
                failures = 1 if self.monotonic() - began > 60 else failures + 1
                delay = min(self.backoff_max, 0.05 * 2 ** (failures - 1))
                self.restarts += 1
                self.crashed_at = self.monotonic()
                self.metrics.inc("thread_restarts")
                log.exception("%s thread crashed; restarting in %.2f s", self.name, delay,
                              extra={"ctx": {"thread": self.name, "restarts": self.restarts}})
                self.stopping.wait(delay)
