"""What a state publisher writes of a runtime: its bounded stores as channels (each followed
by item number into a capped Redis stream) and the quality monitor's state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..role_settings import StateSection
from .layout import CHANNELS


@dataclass
class Channel:
    """One of the runtime's bounded logs and its capped Redis stream.

    ``read(seen)`` returns the items after the ``seen``-th still held (oldest first) and how
    many there have been; item ``n`` is written with id ``base + n``. ``lost`` names the
    counter of items that left the local store before they were written.
    """

    name: str
    cap: int
    read: Callable[[int], tuple[list[Any], int]]
    lost: str
    base: int = 0
    seen: int = 0


def runtime_channels(runtime: Any, params: StateSection) -> list[Channel]:
    """The channels of ``runtime``'s stores, in :data:`~.layout.CHANNELS` order."""
    caps, monitor = params.caps, runtime.monitor

    def records(seen: int) -> tuple[list[Any], int]:
        items = runtime.buffer.after(seen)
        return [r for _, r in items], items[-1][0] if items else max(seen, 0)

    def points(seen: int) -> tuple[list[Any], int]:
        items, total = monitor.points_since(seen)
        return [{"ts": t, "v": v} for t, v in items], total

    found = [Channel("records", runtime.buffer.capacity, records, "state_records_dropped"),
             Channel("quarantine", caps.quarantine, runtime.quarantine.since,
                     "state_items_dropped"),
             Channel("late", caps.late, runtime.late.since, "state_items_dropped"),
             Channel("windows", caps.windows, runtime.windows.since, "state_items_dropped"),
             Channel("errors", caps.errors, runtime.ingest_errors.since, "state_items_dropped"),
             Channel("transitions", caps.transitions, monitor.transitions_since,
                     "state_items_dropped"),
             Channel("quality", caps.quality, points, "state_items_dropped"),
             Channel("snapshots", caps.snapshots, runtime.reporter.since, "state_items_dropped")]
    assert tuple(c.name for c in found) == CHANNELS
    return found


def quality_state(monitor: Any) -> dict[str, Any]:
    """The quality monitor's current state as the web side's ``QualityView`` serves it."""
    return {"enabled": monitor.enabled, "window": monitor.window_seconds,
            "rates": monitor.rates(), "alerts": monitor.alerts(),
            "thresholds": monitor.thresholds(), "rules": monitor.rules(),
            "describe": monitor.describe()}
