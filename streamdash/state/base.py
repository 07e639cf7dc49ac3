"""The read side of a stream's state: what the dashboard and the API may read, from any backend.

A :class:`StreamState` is one stream's live state as a web process sees it — its records, its
logs (quarantine, late records, closed windows, ingestion errors), its counters and gauges, its
quality monitor's alerts and rates, its health — whoever produced it. Two backends implement it:
``memory`` (``state/memory.py``: the :class:`~streamdash.runtime.Runtime`'s own objects, one
process) and ``redis`` (``state/redis_reader.py``: what a worker published, any number of web
processes). The parts are the read APIs the runtime's stores already have, so the memory backend
hands them over as they are:

* ``records`` — :class:`RecordLog`, the ring buffer's read side: the newest ``capacity`` records,
  each with a sequence number that never repeats (the dashboard's ``extendData`` cursor);
* ``quarantine``, ``late``, ``windows``, ``errors`` — :class:`EventLog`, newest first, with the
  count of every item ever added (``total``: the version a table is re-sent on);
* ``metrics`` — :class:`MetricsView`, counters, gauges and histograms (``snapshot()``);
* ``quality`` — :class:`QualityView`, the quality monitor's read API (see
  :class:`~streamdash.quality.monitor.QualityMonitor`);
* :meth:`StreamState.info` (what the stream is: fixed while it runs), :meth:`~StreamState.pulse`
  (the facts the header judges freshness by), :meth:`~StreamState.status`,
  :meth:`~StreamState.health` and :meth:`~StreamState.metric_history` (the metrics snapshots).

Everything returned is JSON-ready plain data (copies), so a backend can carry it across
processes as JSON. A :class:`StateStore` holds the streams by name; today there is one,
:data:`DEFAULT_STREAM`. A backend that cannot answer raises
:class:`~streamdash.errors.StateUnavailable` (the page and ``/health`` then say so).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..sources.base import FieldHints
from ..status import Status

#: The name of the one stream a single-stream configuration runs.
DEFAULT_STREAM = "default"
#: The event logs every stream has (attribute names of :class:`StreamState`).
LOGS = ("quarantine", "late", "windows", "errors")
#: A metric history: ``name → [(epoch seconds, value), …]`` oldest first.
Series = dict[str, list[tuple[float, Any]]]


@dataclass(frozen=True)
class StreamInfo:
    """What a stream is, fixed while it runs: what the page is built from.

    ``window`` is ``(size, lateness, idle_timeout)`` of its first window rule (``None``: no
    window rule); ``quality_window`` the seconds the quality rates cover;
    ``snapshot_interval`` the seconds between metrics snapshots.
    """

    name: str = DEFAULT_STREAM
    title: str = ""
    kind: str = ""
    hints: FieldHints = field(default_factory=FieldHints)
    schema_fields: tuple[str, ...] = ()
    window: tuple[float, float, float] | None = None
    buffer_capacity: int = 10_000
    snapshot_interval: float = 10.0
    quality_window: float = 60.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (read back by :meth:`from_json`)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> StreamInfo:
        """The info in ``data`` (from another process: fields of the wrong type are refused)."""
        if not isinstance(data, dict):
            raise ValueError("stream info: expected an object")
        hints = data.get("hints") or {}
        if not isinstance(hints, dict):
            raise ValueError("stream info: hints must be an object")
        return cls(
            name=_text(data.get("name", DEFAULT_STREAM)), title=_text(data.get("title", "")),
            kind=_text(data.get("kind", "")),
            hints=FieldHints(value_field=_text(hints.get("value_field", "value")),
                             key_field=_text(hints.get("key_field", "")),
                             time_field=_text(hints.get("time_field", "")),
                             required=_texts(hints.get("required", ())),
                             numeric_fields=_texts(hints.get("numeric_fields", ())),
                             snapshot_span=_number(hints.get("snapshot_span", 0.0))),
            schema_fields=_texts(data.get("schema_fields", ())),
            window=_window(data.get("window")),
            buffer_capacity=int(_number(data.get("buffer_capacity", 10_000))),
            snapshot_interval=_number(data.get("snapshot_interval", 10.0)),
            quality_window=_number(data.get("quality_window", 60.0)))


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"stream info: expected text, got {type(value).__name__}")
    return value


def _texts(values: Any) -> tuple[str, ...]:
    if not isinstance(values, (list, tuple)):
        raise ValueError("stream info: expected a list of names")
    return tuple(_text(v) for v in values)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"stream info: expected a number, got {type(value).__name__}")
    return float(value)


def _window(value: Any) -> tuple[float, float, float] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise ValueError("stream info: window must be [size, lateness, idle_timeout]")
    size, lateness, idle = (_number(v) for v in value)
    return size, lateness, idle


@dataclass(frozen=True)
class Pulse:
    """The facts the header judges freshness by (see ``dashboard/texts.freshness_message``).

    ``running``: the pipeline is between start and stop; ``started_at`` when it started;
    ``last_success`` the last successful fetch (epoch s, ``None`` before the first);
    ``interval`` the effective fetch interval and ``interval_reason`` why it is that.
    """

    running: bool = False
    started_at: float | None = None
    last_success: float | None = None
    interval: float = 5.0
    interval_reason: str = ""


@runtime_checkable
class RecordLog(Protocol):
    """The newest ``capacity`` records with sequence numbers (the ring buffer's read side)."""

    capacity: int

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest record (0 when there is none)."""

    def after(self, seq: int = 0, limit: int | None = None) -> list[tuple[int, dict[str, Any]]]:
        """Records after ``seq`` still held, oldest first (the newest ``limit`` of them)."""

    def snapshot(self, limit: int | None = None) -> list[tuple[int, dict[str, Any]]]:
        """Every record held (or the newest ``limit``), oldest first."""


@runtime_checkable
class EventLog(Protocol):
    """The newest ``capacity`` items of one log and the count of every item ever added."""

    capacity: int

    @property
    def total(self) -> int:
        """Items ever added (those no longer held included)."""

    def recent(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The newest items first (at most ``limit``), as JSON-ready dicts."""


class MetricsView(Protocol):
    """Counters, gauges and histograms (:class:`~streamdash.metrics.Metrics`' read side)."""

    def snapshot(self) -> dict[str, Any]:
        """``{"counters": {…}, "gauges": {…}, "histograms": {…}}`` (copies)."""

    def gauge(self, name: str, default: float | None = None) -> float | None:
        """The current value of one gauge."""


class QualityView(Protocol):
    """The quality monitor's read API (documented on ``QualityMonitor``)."""

    enabled: bool
    evaluations: int

    @property
    def window_seconds(self) -> float:
        """Seconds the quality rates cover."""

    def active(self) -> list[dict[str, Any]]: ...

    def alerts(self) -> list[dict[str, Any]]: ...

    def history(self, limit: int | None = 100, state: str | None = None,
                since: float | None = None) -> list[dict[str, Any]]: ...

    def rates(self) -> dict[str, float | None]: ...

    def series(self, metrics: Iterable[str] | None = None,
               limit: int | None = None) -> dict[str, list[Any]]: ...

    def thresholds(self) -> dict[str, list[Any]]: ...

    def rules(self) -> list[dict[str, Any]]: ...

    def describe(self) -> dict[str, Any]: ...


@runtime_checkable
class StreamState(Protocol):
    """One stream's state, read side (see the module docstring for the parts).

    ``epoch`` changes when the state starts over (another run in one process, a state store
    that lost its data): a browser that saw another epoch is sent whole figures again. It is
    the same in every web process reading one store, so a viewer may be served by any of them.
    ``history`` is the persisted history reader the API pages come from when there is one
    (``None``: from the recent views here).
    """

    name: str
    backend: str
    records: RecordLog
    quarantine: EventLog
    late: EventLog
    windows: EventLog
    errors: EventLog
    metrics: MetricsView

    @property
    def epoch(self) -> str: ...

    @property
    def quality(self) -> QualityView | None: ...

    @property
    def history(self) -> Any: ...

    def info(self) -> StreamInfo:
        """What the stream is (title, field hints, window rule, capacities)."""

    def clock(self) -> float:
        """Now, in epoch seconds (the runtime's clock in one process)."""

    def pulse(self) -> Pulse:
        """Running, start time, last successful fetch and the effective interval."""

    def counts(self) -> dict[str, int]:
        """Record counts by outcome (``in``, ``accepted``, ``rejected`` … ``dropped``)."""

    def status(self) -> Status:
        """The status by the one policy (``status.judge``), with its reasons."""

    def health(self) -> dict[str, Any]:
        """``/health``'s report: status, reasons, interval, version, every component."""

    def metric_history(self, names: list[str], since: float, until: float,
                       limit: int = 10_000, *, step: float = 0.0,
                       peak: tuple[str, ...] = ()) -> Series:
        """Metrics snapshots ``name → [(ts, value), …]`` oldest first (``Runtime.
        metric_history``); raises ``StorageUnavailable`` when the history cannot be read."""


class StateStore(Protocol):
    """The streams of one deployment by name, and how the store itself is doing."""

    backend: str

    def streams(self) -> list[str]:
        """The names of the streams this store holds."""

    def stream(self, name: str = DEFAULT_STREAM) -> StreamState:
        """The state of stream ``name`` (``KeyError`` for a name it does not hold)."""

    def describe(self) -> dict[str, Any]:
        """The backend and its settings for ``/health`` (never a password)."""

    def close(self) -> None:
        """Release connections."""
