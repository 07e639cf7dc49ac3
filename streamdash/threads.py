"""The one lifecycle every background component follows: the :class:`Service` protocol.

A service owns threads. ``start()`` starts them (a second call does nothing) and ``stop(timeout)``
asks them to finish, joins them and answers whether they ended within ``timeout`` (a second
call does nothing more and answers again). The pipeline workers, the history writer, the
metrics reporter, the webhook notifier, the quality monitor, the SSE reader and the
:class:`~streamdash.runtime.Runtime` itself follow it, so a caller stops any of them the same
way and learns which one overstayed.

:class:`ThreadRunner` is the plumbing of one named thread (start once, a stop event, join);
:class:`Background` is the base of a component whose loop runs in one. Loops receive the stop
event and must return soon after it is set: wait on it (``stopping.wait(timeout)``) or use
``queue.get(timeout=…)``, never a bare ``sleep``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

M = TypeVar("M", bound="Managed")

#: Seconds ``stop()`` waits by default for a thread to end.
STOP_TIMEOUT = 5.0


@runtime_checkable
class Service(Protocol):
    """Something that runs in the background: idempotent ``start`` and ``stop``."""

    def start(self) -> None:
        """Start the thread(s) unless they run already."""

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Ask the thread(s) to finish and join them; True when they ended within ``timeout``
        (and, for a store, wrote what was queued). Does nothing more when already stopped."""


class Managed:
    """``with service:`` starts it and stops it on the way out (the shared context manager)."""

    def start(self) -> None:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:  # pragma: no cover - as start
        raise NotImplementedError

    def __enter__(self: M) -> M:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class ThreadRunner(Managed):
    """Runs ``target()`` in a daemon thread named ``streamdash-<name>``; ``stopping`` ends it."""

    def __init__(self, name: str, target: Callable[[], None]):
        self.name = name
        self.target = target
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread unless it runs (after a stop it may start again)."""
        if self.alive:
            return
        self.stopping.clear()
        self._thread = threading.Thread(target=self.target, name=f"streamdash-{self.name}",
                                        daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the loop to finish and return at once (:meth:`stop` also waits)."""
        self.stopping.set()

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Ask the loop to finish and join it; True when the thread ended within ``timeout``."""
        self.request_stop()
        return self.join(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it has (or never started).

        Called from the thread itself (a loop stopping its own service) it cannot wait for
        itself: it answers False at once instead of raising.
        """
        thread = self._thread
        if thread is None:
            return True
        if thread is threading.current_thread():
            return False
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()


class Background(Managed):
    """The :class:`Service` of a component whose loop runs in the :class:`ThreadRunner` it
    keeps as ``self._runner`` (the pipeline workers, the notifier, the reporter)."""

    _runner: ThreadRunner

    def start(self) -> None:
        """Start the thread unless it is already running."""
        self._runner.start()

    def request_stop(self) -> None:
        """Ask the loop to finish and return at once (:meth:`stop` also waits)."""
        self._runner.request_stop()

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Ask the loop to finish and join it; True when it ended within ``timeout``."""
        self.request_stop()
        return self.join(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it has (or never started)."""
        return self._runner.join(timeout)

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._runner.alive
