"""Polling helpers shared by tests that watch background threads and browsers.

A wait's timeout is derived from the periods the product runs on (source interval, refresh,
flush, cache periods), never a guess: :func:`within` turns the periods a condition depends on
into a bound, adding only :data:`ROUND_TRIP` for the machine itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: The longest one round trip may take on a loaded 2-core CI machine (a browser's callback request,
#: the server's work and the render, or a thread being scheduled): the one constant a wait adds to
#: the product's own periods. Round trips are well under a second on a quiet machine; 10 s
#: absorbs a machine whose cores are busy with other work (the flake check in
#: docs/operations.md runs the browser tests beside a process that keeps one core busy).
ROUND_TRIP = 10.0


def within(*periods: float) -> float:
    """Seconds to wait for a condition the product guarantees once each of ``periods`` (timer,
    refresh, flush or cache periods that elapse one after another) has passed: each period
    twice (the event may land just after a tick, and timers drift under load) plus one
    :data:`ROUND_TRIP`."""
    return 2 * sum(periods) + ROUND_TRIP


def wait_stable(read: Callable[[], object], hold: float, timeout: float) -> object:
    """Wait until ``read()`` returns the same value for ``hold`` seconds in a row and return
    it; fail when that does not happen within ``timeout``. Shows that something stopped
    changing (e.g. a paused dashboard) without guessing when the last change lands."""
    deadline = time.monotonic() + timeout
    value, since = read(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(min(0.1, hold / 10))
        now_value = read()
        if now_value != value:
            value, since = now_value, time.monotonic()
        elif time.monotonic() - since >= hold:
            return value
    raise AssertionError(f"value kept changing for {timeout:.1f} s (last {value!r})")


def wait_for(predicate: Callable[[], object], timeout: float = 10.0,
             interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def wait_until(predicate: Callable[[], object], timeout: float = 10.0,
               what: str = "condition") -> None:
    """Like :func:`wait_for`, but fail the test (naming ``what``) when it times out."""
    assert wait_for(predicate, timeout, 0.005), f"timed out waiting for {what}"
