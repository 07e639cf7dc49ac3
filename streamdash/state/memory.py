"""The ``memory`` backend: a running :class:`~streamdash.runtime.Runtime`'s own objects.

The all-in-one process (``streamdash run``, the default) reads its state straight from the
runtime's stores: the ring buffer, the recent logs, the metrics and the quality monitor already
have the read APIs :class:`~streamdash.state.base.StreamState` names, so :class:`MemoryStream`
hands them over as they are (the quarantine through a small adapter that gives its rejections
as dicts). Nothing is copied ahead of a read, so the memory backend costs nothing per batch.
"""

from __future__ import annotations

import uuid
from typing import Any

from ..runtime import Runtime
from ..status import Status
from ..store.quarantine import Quarantine
from .base import DEFAULT_STREAM, Pulse, Series, StreamInfo


def window_spec(processor: Any) -> tuple[float, float, float] | None:
    """``(size, lateness, idle_timeout)`` of a processor's first window rule, or ``None``."""
    rules = getattr(processor, "windows", None) or ()
    if not rules:
        return None
    rule = rules[0]
    return float(rule.size), float(rule.watermark.lateness), float(rule.idle_timeout)


def runtime_info(runtime: Runtime, name: str = DEFAULT_STREAM) -> StreamInfo:
    """What ``runtime``'s stream is: its source, field hints, schema and window rule."""
    schema = getattr(getattr(runtime, "processor", None), "schema", None)
    window = getattr(getattr(runtime, "monitor", None), "window", None)
    return StreamInfo(name=name, title=runtime.source.name, kind=runtime.source.kind,
                      hints=runtime.source.hints,
                      schema_fields=tuple(getattr(schema, "names", ()) or ()),
                      window=window_spec(getattr(runtime, "processor", None)),
                      buffer_capacity=runtime.buffer.capacity,
                      snapshot_interval=float(runtime.reporter.interval),
                      quality_window=float(getattr(window, "window", 60.0)))


def runtime_pulse(runtime: Runtime) -> Pulse:
    """The freshness facts of ``runtime`` now."""
    return Pulse(running=runtime.running, started_at=runtime.started_at,
                 last_success=runtime.source_health.snapshot()["last_success"],
                 interval=runtime.fetch_interval(), interval_reason=runtime.cadence.reason())


class QuarantineLog:
    """The quarantine as an :class:`~streamdash.state.base.EventLog` of JSON-ready dicts."""

    def __init__(self, quarantine: Quarantine):
        self._quarantine = quarantine
        self.capacity = quarantine.capacity

    @property
    def total(self) -> int:
        """Rejections ever added."""
        return self._quarantine.total

    def recent(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The newest rejections first, as dicts with their reasons."""
        return self._quarantine.to_dicts(limit)


class MemoryStream:
    """One runtime's state, read in place (see the module docstring).

    ``runtime`` stays reachable (the all-in-one app and the tests feed it); the dashboard and
    the API read only the :class:`~streamdash.state.base.StreamState` parts.
    """

    backend = "memory"

    def __init__(self, runtime: Runtime, name: str = DEFAULT_STREAM):
        self.runtime = runtime
        self.name = name
        self._epoch = uuid.uuid4().hex[:12]
        self.records = runtime.buffer
        self.quarantine = QuarantineLog(runtime.quarantine)
        self.late = runtime.late
        self.windows = runtime.windows
        self.errors = runtime.ingest_errors
        self.metrics = runtime.metrics
        self._info: StreamInfo | None = None

    @property
    def epoch(self) -> str:
        """New for every view of a runtime: a browser that saw another process starts over."""
        return self._epoch

    @property
    def quality(self) -> Any:
        """The runtime's quality monitor (``None`` for a runtime without one)."""
        return getattr(self.runtime, "monitor", None)

    @property
    def history(self) -> Any:
        """The SQLite history's reader when the runtime keeps one (a ``data_dir``)."""
        history = self.runtime.history
        return history.reader if history is not None else None

    def info(self) -> StreamInfo:
        """Fixed once the runtime is built: computed once."""
        if self._info is None:
            self._info = runtime_info(self.runtime, self.name)
        return self._info

    def clock(self) -> float:
        return self.runtime.clock()

    def pulse(self) -> Pulse:
        return runtime_pulse(self.runtime)

    def counts(self) -> dict[str, int]:
        return self.runtime.counts()

    def status(self) -> Status:
        return self.runtime.status()

    def health(self) -> dict[str, Any]:
        return self.runtime.health()

    def metric_history(self, names: list[str], since: float, until: float,
                       limit: int = 10_000, *, step: float = 0.0,
                       peak: tuple[str, ...] = ()) -> Series:
        return self.runtime.metric_history(names, since, until, limit, step=step, peak=peak)


class MemoryStore:
    """The ``memory`` backend's store: the one runtime of this process as its stream."""

    backend = "memory"

    def __init__(self, runtime: Runtime, name: str = DEFAULT_STREAM):
        self._streams = {name: MemoryStream(runtime, name)}

    def streams(self) -> list[str]:
        return list(self._streams)

    def stream(self, name: str = DEFAULT_STREAM) -> MemoryStream:
        return self._streams[name]

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "streams": self.streams()}

    def close(self) -> None:
        """Nothing to release: the runtime's owner stops it."""


def as_stream(state: Any) -> Any:
    """``state`` as a :class:`~streamdash.state.base.StreamState`: a runtime is read in place
    (:class:`MemoryStream`), anything else is taken to be a stream state already."""
    return MemoryStream(state) if isinstance(state, Runtime) else state
