"""The web side of the ``redis`` backend: a :class:`~streamdash.state.base.StreamState` read from
what a worker published (``state/publisher.py``, keys in ``state/layout.py``).

A web process keeps nothing of its own but short-lived read caches: the pulse (newest ids,
metrics, health, alert states) is read in one round trip and shared by every request for
``state.read_cache`` seconds, and the newest records already read are kept (at most
:data:`TAIL` of them, for the current epoch) so that many viewers asking for "the records after
mine" cost one read of what is new, not one each. Every web process reading one store serves
the same answers: versions, cursors and the epoch come from Redis. The long history (the API's
pages, the metric charts) comes from the history every role shares when there is one
(``storage.backend: postgres``: ``history``), else from the capped streams here.

What comes out of Redis is data to check, never code: every entry is decoded with orjson
(``layout.decode``: size-bounded, type-checked); one that does not pass is skipped and counted
(``components.state.skipped`` in ``/health``). A Redis that does not answer raises
:class:`~streamdash.errors.StateUnavailable` (the page and ``/health`` then say "state store
unreachable"); so does every read within ``state.read_cache`` seconds after it, so a dead
store is not asked once per viewer.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._version import __version__
from ..errors import StateUnavailable
from ..metric_catalog import OUTCOMES
from ..role_settings import StateSection
from ..status import Status
from ..store.history import HistoryReader
from .base import DEFAULT_STREAM, Pulse, Series, StreamInfo
from .layout import CHANNELS, FIELD, Keys, decode, entry_id, entry_number, number, text
from .redis_conn import errors, shown_url, unavailable
from .redis_quality import RedisQuality

#: Newest records a web process keeps from its last reads (per stream).
TAIL = 4096


@dataclass(frozen=True)
class View:
    """One read of a stream's pulse, meta and heartbeat."""

    epoch: str = ""
    info: StreamInfo | None = None
    tops: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    health: dict[str, Any] | None = None
    pulse: Pulse = Pulse()
    quality: dict[str, Any] = field(default_factory=dict)
    worker: str | None = None
    written_at: float | None = None


class RedisStream:
    """One stream's state as a worker published it (see the module docstring)."""

    backend = "redis"

    def __init__(self, client: Any, params: StateSection, url: str,
                 name: str = DEFAULT_STREAM, *, fallback: StreamInfo | None = None,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 history: HistoryReader | None = None):
        self.client = client
        # The history every process of the deployment shares (PostgreSQL), when there is
        # one: the API pages and the metric charts come from it; else from the capped streams.
        self.history = history
        self.params = params
        self.url = url
        self.name = name
        self.keys = Keys(params.key_prefix, name)
        self.fallback = fallback or StreamInfo(name=name)
        self.clock = clock
        self.monotonic = monotonic
        self.skipped = 0
        self._errors = errors()
        self._lock = threading.Lock()
        self._view: tuple[float, View | StateUnavailable] | None = None
        caps = params.caps
        self.records = RedisRecords(self)
        self.quarantine = RedisLog(self, "quarantine", caps.quarantine)
        self.late = RedisLog(self, "late", caps.late)
        self.windows = RedisLog(self, "windows", caps.windows)
        self.errors = RedisLog(self, "errors", caps.errors)
        self.metrics = RedisMetrics(self)
        self.quality = RedisQuality(self)

    # -- reading --------------------------------------------------------------------------------
    def view(self) -> View:
        """The pulse as read at most ``state.read_cache`` seconds ago (one round trip)."""
        with self._lock:
            now = self.monotonic()
            if self._view is None or now - self._view[0] >= self.params.read_cache:
                try:
                    self._view = (now, self._read_view())
                except self._errors as exc:
                    self._view = (now, unavailable(exc, self.url))
            got = self._view[1]
        if isinstance(got, StateUnavailable):
            raise StateUnavailable(str(got))  # a new one: raising one object again grows it
        return got

    def _read_view(self) -> View:
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self.keys.pulse)
        pipe.hmget(self.keys.meta, ["epoch", "info"])
        pipe.get(self.keys.alive)
        pulse, (epoch, info), alive = pipe.execute()
        tops = {}
        for name in CHANNELS:
            raw = pulse.get(f"top:{name}".encode(), b"0")
            tops[name] = int(raw) if raw.isdigit() else self._skip(0)
        return View(epoch=text(epoch), info=self._json(info, StreamInfo.from_json),
                    tops=tops, metrics=self._json(pulse.get(b"metrics")) or {},
                    health=self._json(pulse.get(b"health")),
                    pulse=self._json(pulse.get(b"pulse"), _pulse) or Pulse(),
                    quality=self._json(pulse.get(b"quality")) or {},
                    worker=text(alive) or None,
                    written_at=self._json(pulse.get(b"written_at"), number, (int, float)))

    def _json(self, raw: Any, build: Callable[[Any], Any] | None = None,
              kind: type | tuple[type, ...] = dict) -> Any:
        if raw is None:
            return None
        try:
            value = decode(raw, self.params.max_entry_bytes, kind)
            return build(value) if build is not None else value
        except (ValueError, TypeError, KeyError):
            return self._skip(None)

    def _skip(self, value: Any) -> Any:
        self.skipped += 1  # a rough count (not locked): it only says "look at Redis"
        return value

    def entries(self, channel: str, first: int, last: int, *, newest: int | None = None,
                kind: type = dict) -> list[tuple[int, Any]]:
        """Entries numbered ``first``…``last`` of ``channel`` (oldest first), or its
        ``newest`` entries up to ``last``; those that do not decode are skipped."""
        key = self.keys.channel(channel)
        try:
            if newest is not None:
                rows = self.client.xrevrange(key, entry_id(last), "-", count=newest)
                rows.reverse()
            else:
                rows = self.client.xrange(key, entry_id(first), entry_id(last))
        except self._errors as exc:
            raise unavailable(exc, self.url) from None
        out = []
        for raw_id, fields in rows:
            try:
                out.append((entry_number(raw_id),
                            decode(fields.get(FIELD), self.params.max_entry_bytes, kind)))
            except (ValueError, AttributeError):
                self._skip(None)
        return out

    # -- StreamState ------------------------------------------------------------------------------
    @property
    def epoch(self) -> str:
        """The stream's epoch in Redis (``unwritten`` before a worker wrote, ``unreachable``
        while Redis does not answer: a browser that saw either starts over afterwards)."""
        try:
            return self.view().epoch or "unwritten"
        except StateUnavailable:
            return "unreachable"

    def info(self) -> StreamInfo:
        """What the worker said the stream is; the local settings' idea before it wrote."""
        try:
            return self.view().info or self.fallback
        except StateUnavailable:
            return self.fallback

    def pulse(self) -> Pulse:
        view = self.view()
        if view.worker is None:
            return Pulse(running=False, started_at=view.pulse.started_at,
                         last_success=view.pulse.last_success, interval=view.pulse.interval,
                         interval_reason=view.pulse.interval_reason)
        return view.pulse

    def counts(self) -> dict[str, int]:
        counters = self.view().metrics.get("counters") or {}
        return {n: int(number(counters.get(f"records_{n}", 0), 0))
                for n in ("in", *OUTCOMES)}

    def status(self) -> Status:
        report = self.health()
        return Status(report["status"], tuple(report.get("reasons") or ()),
                      tuple(report.get("firing") or ()))

    def health(self) -> dict[str, Any]:
        """The worker's health report with this reader's ``components.state``; ``down`` when
        no worker has written within ``state.heartbeat_ttl``."""
        view = self.view()
        # The worker's report over the shape every report has (before any worker wrote too).
        report = {"status": "down", "reasons": [], "firing": [],
                  "interval_s": view.pulse.interval, "version": __version__, "uptime_s": 0.0,
                  "components": {}, **(view.health or {})}
        components = dict(report.get("components") or {})
        # The reader's side, and the worker's own (``writer``: its backlog, its errors).
        components["state"] = {**self.describe(view), "writer": components.get("state")}
        report["components"] = components
        if view.worker is None:
            report["status"] = "down"
            why = (f"no worker is writing stream '{self.name}': none has written for "
                   f"{self.params.heartbeat_ttl:g} s" if view.health is not None else
                   f"no worker has written stream '{self.name}' yet")
            report["reasons"] = [why, *(report.get("reasons") or [])]
        return report

    def describe(self, view: View | None = None) -> dict[str, Any]:
        """This reader's part of ``/health``: the store, the worker's heartbeat, skipped data."""
        return {"backend": "redis", "url": shown_url(self.url), "stream": self.name,
                "ok": True, "role": "web", "worker": view.worker if view else None,
                "written_at": view.written_at if view else None, "skipped": self.skipped}

    def metric_history(self, names: list[str], since: float, until: float,
                       limit: int = 10_000, *, step: float = 0.0,
                       peak: tuple[str, ...] = ()) -> Series:
        """The snapshots in ``[since, until]`` (the newest ``limit``): from the shared history
        when there is one (``step`` > 0 averages them per ``step`` seconds in SQL, ``peak``
        names take the maximum, as ``Runtime.metric_history``), else those published to Redis
        (few enough as they are: ``step`` and ``peak`` do not apply)."""
        if self.history is not None:
            if step > 0:
                return self.history.metric_buckets(names, since, until, step, peak)
            return self.history.metrics(names, since, until, limit)
        top = self.view().tops["snapshots"]
        rows = [r for _, r in self.entries("snapshots", 0, top,
                                           newest=self.params.caps.snapshots)
                if isinstance(r.get("ts"), (int, float)) and since <= r["ts"] <= until]
        return {n: [(r["ts"], r.get(n)) for r in rows][-limit:] for n in names}


class RedisRecords:
    """The live records of a stream as a :class:`~streamdash.state.base.RecordLog`: the newest
    ``capacity`` up to the published newest id, with the newest :data:`TAIL` kept from reads."""

    def __init__(self, stream: RedisStream):
        self._stream = stream
        self._lock = threading.Lock()
        self._tail: list[tuple[int, dict[str, Any]]] = []
        self._tail_epoch = ""

    @property
    def capacity(self) -> int:
        return self._stream.info().buffer_capacity

    @property
    def last_seq(self) -> int:
        return self._stream.view().tops["records"]

    def after(self, seq: int = 0, limit: int | None = None) -> list[tuple[int, dict[str, Any]]]:
        view = self._stream.view()
        last = view.tops["records"]
        first = max(seq + 1, last - min(last, self.capacity) + 1)
        if limit is not None:
            first = max(first, last - limit + 1)
        if first > last:
            return []
        with self._lock:
            items = self._read(view.epoch, first, last)
        return [(s, dict(r)) for s, r in items]

    def _read(self, epoch: str, first: int, last: int) -> list[tuple[int, dict[str, Any]]]:
        tail = self._tail if epoch == self._tail_epoch else []
        if tail and tail[0][0] <= first and tail[-1][0] >= first - 1:
            newest = tail[-1][0]
            if newest < last:  # only what is new since the last read
                tail = tail + self._fetch(newest + 1, last)
            self._keep(epoch, tail)
        else:
            tail = self._fetch(first, last)
            self._keep(epoch, tail)
        return [(s, r) for s, r in tail if first <= s <= last]

    def _fetch(self, first: int, last: int) -> list[tuple[int, dict[str, Any]]]:
        """Records ``first``…``last`` from their groups (an entry's id is its last record's
        number; records that are not objects are skipped and counted)."""
        out = []
        for end, group in self._stream.entries("records", first, last, kind=list):
            start = end - len(group) + 1
            for seq, record in enumerate(group, start):
                if not isinstance(record, dict):
                    self._stream._skip(None)
                elif seq >= first:
                    out.append((seq, record))
        return out

    def _keep(self, epoch: str, items: list[tuple[int, dict[str, Any]]]) -> None:
        self._tail, self._tail_epoch = items[-TAIL:], epoch

    def snapshot(self, limit: int | None = None) -> list[tuple[int, dict[str, Any]]]:
        return self.after(0, limit)


class RedisLog:
    """One capped log (quarantine, late, windows, errors) as an ``EventLog``."""

    def __init__(self, stream: RedisStream, name: str, capacity: int):
        self._stream = stream
        self.name = name
        self.capacity = capacity

    @property
    def total(self) -> int:
        return self._stream.view().tops[self.name]

    def recent(self, limit: int | None = None) -> list[dict[str, Any]]:
        count = min(limit or self.capacity, self.capacity)
        items = self._stream.entries(self.name, 0, self.total, newest=count)
        return [item for _, item in reversed(items)]


class RedisMetrics:
    """The worker's counters, gauges and histograms as of its last write."""

    def __init__(self, stream: RedisStream):
        self._stream = stream

    def snapshot(self) -> dict[str, Any]:
        metrics = self._stream.view().metrics
        out = {part: dict(metrics.get(part) or {}) for part in ("counters", "gauges")}
        out["histograms"] = {name: _histogram(h) for name, h in
                             (metrics.get("histograms") or {}).items() if isinstance(h, dict)}
        return out

    def gauge(self, name: str, default: float | None = None) -> float | None:
        gauges = self._stream.view().metrics.get("gauges") or {}
        return gauges.get(name, default)


def _histogram(hist: dict[str, Any]) -> dict[str, Any]:
    """A histogram summary from JSON: the last bucket's bound is +Inf again (JSON has no
    infinity: orjson wrote null)."""
    buckets = [(math.inf if b is None else b, c) for b, c in hist.get("buckets") or []
               if isinstance(c, (int, float))]
    return {**hist, "buckets": buckets}


def _pulse(data: dict[str, Any]) -> Pulse:
    """A :class:`Pulse` from its JSON; ``ValueError`` for a field of the wrong type."""
    def when(name: str) -> float | None:
        value = data.get(name)
        return None if value is None else float(number(value))

    return Pulse(running=data.get("running") is True, started_at=when("started_at"),
                 last_success=when("last_success"),
                 interval=float(number(data.get("interval"), 5.0)),
                 interval_reason=text(data.get("interval_reason")))
