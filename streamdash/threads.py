"""One named background thread with idempotent start, a stop event, join and liveness.

Every component that runs a loop in the background (pipeline workers, the quality monitor, the
notifier, the metrics reporter) owns one :class:`ThreadRunner` instead of repeating this
plumbing. The loop receives the stop event and must return soon after it is set: wait on it
(``stopping.wait(timeout)``) or use ``queue.get(timeout=…)``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class ThreadRunner:
    """Runs ``target()`` in a daemon thread named ``streamdash-<name>``; ``stopping`` ends it."""

    def __init__(self, name: str, target: Callable[[], None]):
        self.name = name
        self.target = target
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Start the thread unless it runs; True when this call started it."""
        if self.alive:
            return False
        self.stopping.clear()
        self._thread = threading.Thread(target=self.target, name=f"streamdash-{self.name}",
                                        daemon=True)
        self._thread.start()
        return True

    def stop(self) -> None:
        """Ask the loop to finish (returns at once; see :meth:`join`)."""
        self.stopping.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it has (or never started)."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()


class Background:
    """``start``/``stop``/``join``/``alive`` for a component whose loop runs in the
    :class:`ThreadRunner` it keeps as ``self._runner`` (the pipeline workers, the notifier)."""

    _runner: ThreadRunner

    def start(self) -> None:
        """Start the thread unless it is already running."""
        self._runner.start()

    def stop(self) -> None:
        """Ask the loop to finish (returns at once; see :meth:`join`)."""
        self._runner.stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it has (or never started)."""
        return self._runner.join(timeout)

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._runner.alive
