"""``streamdash worker`` on a multi-stream config: N workers spread M streams between them.

A :class:`SpreadWorker` has a :class:`StreamUnit` per configured stream — the single-stream
worker's parts (a :class:`~streamdash.runtime.Runtime` built from ``settings.for_stream(name)``,
its :class:`~streamdash.state.publisher.StatePublisher` and the stream's
:class:`~streamdash.state.lease.LeaseKeeper`) — and runs a pipeline only for the streams whose
lease it holds. One thread (the rounds, every ``state.lease_ttl / 3``) does for every stream
what the single worker's lease thread does for one, so a worker runs a bounded number of
threads whatever the number of streams (``max_streams`` bounds the pipelines):

1. renew the worker's heartbeat (``P:_workers:<id>``, TTL ``lease_ttl``) and count the live
   ones (:mod:`streamdash.state.share`);
2. renew the leases held (a lease found taken: that pipeline is stopped, its writes refused);
3. :func:`~streamdash.state.share.plan`: take free streams up to ``ceil(M / live)``, or give
   up one stream over it. Giving up is a clean stop in its own thread (one at a time): the
   pipeline drains as at shutdown (:data:`~streamdash.worker.DRAIN_TIMEOUT`), writes its last
   state while the rounds still renew its lease, then the lease is released and a worker
   under its share takes the stream at its next round, carrying on the counters and the keyed
   state from Redis (``StatePublisher.adopt``), as a standby does after a death.

A worker joining: the others see one more heartbeat at their next round and give up their
streams over the smaller share, one a round. A worker dying (``kill -9``): its heartbeat and
its leases expire within ``lease_ttl``; the others' shares grow and they take its streams at
their next round — within ``lease_ttl`` plus one round. What a death loses is what the single
worker's takeover loses (:mod:`streamdash.worker`).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from typing import Any

from .config import Settings
from .errors import ConfigError
from .logs import log_event
from .probe import HealthServer
from .redact import Redactor, secret_values
from .runtime import Runtime
from .state.build import attach_publisher
from .state.layout import Keys, text
from .state.lease import LeaseKeeper
from .state.redis_conn import connect, errors, resolve_url, unavailable
from .state.share import beat, fair_share, live_workers, plan
from .streams import stream_error
from .threads import STOP_TIMEOUT, Managed, ThreadRunner

log = logging.getLogger("streamdash.worker")

#: Health states from best to worst (a worker's is its worst stream's).
SEVERITY = ("ok", "degraded", "down")


class StreamUnit:
    """One stream of a :class:`SpreadWorker`: its lease, and its pipeline while held.

    The pipeline is built at construction (so a config error shows before anything starts)
    and again for each new take after a give-up: a stopped runtime never starts again,
    because the counters it adopted from Redis would be added twice.
    """

    def __init__(self, owner: SpreadWorker, name: str):
        self.owner = owner
        self.name = name
        try:
            self.settings = owner.settings.for_stream(name)
        except ConfigError as exc:
            raise stream_error(name, exc) from None
        self.keys = Keys(owner.prefix, name)
        self.lease = LeaseKeeper(owner.client, self.keys, owner.worker_id, owner.ttl,
                                 on_acquired=self._take, on_lost=self._lost,
                                 resume=self._resume, url=owner.url)
        self.runtime: Runtime | None = None
        self.publisher: Any = None
        self.releasing = False  # a give-up is under way (its lease renewed until it ends)
        self.lost = False  # the lease turned out another's: the pipeline must stop
        self._build()

    def _build(self) -> None:
        try:
            runtime = Runtime(self.settings)
        except ConfigError as exc:
            raise stream_error(self.name, exc) from None
        publisher = attach_publisher(runtime, self.settings, self.owner.environ,
                                     stream=self.name, worker_id=self.owner.worker_id,
                                     hold_acks=True)
        assert publisher is not None  # the backend is redis (checked by the worker)
        publisher.may_write = lambda: self.lease.held
        publisher.lease = self.lease.describe
        self.runtime, self.publisher = runtime, publisher

    @property
    def held(self) -> bool:
        """Whether this worker holds the lease (renewed, not yet found lost)."""
        return self.lease.renewed_at is not None

    def _take(self) -> None:
        """The lease is ours (in the rounds' thread): carry on the stream's counters and keyed
        state from Redis, then start the pipeline."""
        if self.runtime is None:
            self._build()
        assert self.runtime is not None
        self.publisher.adopt()
        self.runtime.start()
        log_event(log, logging.INFO, "took a stream", stream=self.name,
                  worker=self.owner.worker_id)

    def _lost(self) -> None:
        self.lost = True  # the rounds stop the pipeline; its writes are refused already

    def _resume(self) -> bool:
        """The lease expired while Redis was away and is ours again: carry the pipeline on
        when no other worker wrote the stream meanwhile (its stores hold what was not
        written yet)."""
        publisher = self.publisher
        return publisher is not None and publisher.wrote_last()

    def stop_pipeline(self, timeout: float) -> bool:
        """Stop the pipeline (drain at most ``timeout`` s, write the last state) and drop it;
        a pipeline never started only closes its source. True when it ended in time."""
        runtime, publisher = self.runtime, self.publisher
        self.runtime = self.publisher = None
        if runtime is None:
            return True
        if runtime.started_at is None:
            runtime.source.close()
            ended = True
        else:
            ended = runtime.stop(timeout)
        publisher.client.close()
        return ended


class SpreadWorker(Managed):
    """A worker spreading a multi-stream config's streams with the other workers (see the
    module docstring); its health (the streams held, those it stands by for) on a side port.
    """

    def __init__(self, settings: Settings, *, environ: Mapping[str, str] | None = None):
        from .worker import require_redis

        require_redis(settings)
        params = settings.model.state
        self.settings = settings
        self.environ = environ
        self.ttl = params.lease_ttl
        self.prefix = params.key_prefix
        self.url = resolve_url(params, environ)
        self.client = connect(params, self.url)
        self.worker_id = uuid.uuid4().hex[:12]
        self.names = settings.stream_names()
        self.live: list[str] = [self.worker_id]
        self.error: str | None = None
        self.lost = threading.Event()  # never set: a lost stream is let go, the others go on
        self._errors = errors()
        self._round = threading.Lock()  # a round, a give-up's end and the stop never cross
        self._stopping = False
        self._releaser: threading.Thread | None = None
        self._runner = ThreadRunner("spread", self._run)
        self.units: dict[str, StreamUnit] = {}
        try:
            for name in self.names:
                self.units[name] = StreamUnit(self, name)
        except BaseException:
            for unit in self.units.values():
                unit.stop_pipeline(0)
            raise
        secrets = secret_values(settings.as_dict(), environ)
        for unit in self.units.values():
            own = getattr(unit.runtime.source if unit.runtime else None, "redactor", None)
            secrets += own.secrets if isinstance(own, Redactor) else []
        worker = settings.model.worker
        self.health = SpreadHealth(SpreadState(self), worker.health_host, worker.health_port,
                                   Redactor(secrets))

    # -- the rounds ---------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            self.step()
            if self._runner.stopping.wait(self.ttl / 3):
                return

    def step(self) -> None:
        """One round (see the module docstring)."""
        with self._round:
            try:
                beat(self.client, self.prefix, self.worker_id, self.ttl)
                self.live = live_workers(self.client, self.prefix) or [self.worker_id]
                self.error = None
            except self._errors as exc:
                self.error = str(unavailable(exc, self.url))
            for unit in self.units.values():
                if unit.lost and not unit.releasing:
                    self._give_up(unit, "its lease was taken by another worker")
                elif unit.held:
                    unit.lease.step()  # renew (a give-up's too: it still writes)
            if self._stopping or self.error is not None:
                return
            held = {n for n, u in self.units.items() if u.held and not u.releasing}
            # A lost stream's lease may be free, but its pipeline must stop before a new one
            # adopts the stream from Redis (the next round gives it up).
            free = self._free() - {n for n, u in self.units.items() if u.lost}
            take, release = plan(self.names, held, free, len(self.live))
            for name in take:
                self.units[name].lease.step()  # take it (another may have been quicker)
            if release:
                self._give_up(self.units[release[0]], f"over this worker's share "
                              f"({fair_share(len(self.names), len(self.live))} of "
                              f"{len(self.names)} streams, {len(self.live)} workers)")

    def _free(self) -> set[str]:
        """The streams whose lease nobody holds (none when Redis does not answer)."""
        try:
            owners = self.client.mget([u.keys.key("lease") for u in self.units.values()])
        except self._errors:
            return set()
        return {name for name, owner in zip(self.units, owners, strict=True) if owner is None}

    def _give_up(self, unit: StreamUnit, why: str) -> None:
        """Stop ``unit``'s pipeline and release its lease, in the give-up thread (one at a
        time: the next round starts the next one)."""
        if self._releaser is not None and self._releaser.is_alive():
            return
        unit.releasing = True
        log_event(log, logging.INFO, "giving a stream up", stream=unit.name, why=why,
                  worker=self.worker_id)
        self._releaser = threading.Thread(target=self._release, args=(unit,),
                                          name=f"streamdash-give-up-{unit.name}", daemon=True)
        self._releaser.start()

    def _release(self, unit: StreamUnit) -> None:
        from .worker import DRAIN_TIMEOUT

        ended = unit.stop_pipeline(DRAIN_TIMEOUT)  # the rounds renew its lease meanwhile
        with self._round:
            unit.lease.stop()  # releases it if still ours: a worker under its share takes it
            unit.releasing = unit.lost = False
        log_event(log, logging.INFO if ended else logging.WARNING, "gave a stream up",
                  stream=unit.name, worker=self.worker_id, drained=ended)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Serve the probes and start the rounds (pipelines start as leases are taken)."""
        self.health.start()
        self._runner.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop every pipeline at once (each drains at most ``timeout`` s and writes its last
        state while the rounds still renew its lease), then stop the rounds, release the
        leases, stop the probes; True when everything ended in time."""
        from .worker import DRAIN_TIMEOUT

        drain = DRAIN_TIMEOUT if timeout is None else timeout
        with self._round:
            self._stopping = True  # no take, no give-up from here on
        releaser = self._releaser
        ended = releaser is None or _join(releaser, drain + STOP_TIMEOUT)
        results: dict[str, bool] = {}
        threads = [threading.Thread(target=lambda u=u: results.__setitem__(
            u.name, u.stop_pipeline(drain)), name=f"streamdash-stop-{u.name}")
            for u in self.units.values()]  # at most max_streams, for one drain's time
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ended = all(results.values()) and len(results) == len(self.units) and ended
        ended = self._runner.stop(STOP_TIMEOUT) and ended
        with self._round:
            for unit in self.units.values():
                unit.lease.stop()
        ended = self.health.stop() and ended
        try:
            self.client.delete(f"{self.prefix}:_workers:{self.worker_id}")
        except self._errors:
            pass  # it expires by itself
        self.client.close()
        return ended

    def held(self) -> list[str]:
        """The streams whose pipeline runs here, in config order."""
        return [n for n, u in self.units.items() if u.held and u.runtime is not None]

    def log_fields(self) -> dict[str, Any]:
        """What the start line logs."""
        return {"streams": ",".join(self.names), "worker": self.worker_id,
                "health": f"{self.health.url}/health"}


def _join(thread: threading.Thread, timeout: float) -> bool:
    thread.join(timeout)
    return not thread.is_alive()


class SpreadState:
    """What a spreading worker's probes answer: its streams' health, and which it holds."""

    backend = "redis"

    def __init__(self, worker: SpreadWorker):
        self.worker = worker

    def health(self) -> dict[str, Any]:
        """``/health``: the worst status of the streams held (``down`` when Redis does not
        answer), the streams held and, for the others, who holds them."""
        w = self.worker
        reports: dict[str, Any] = {}
        for name, unit in w.units.items():
            runtime = unit.runtime
            if unit.held and runtime is not None:
                reports[name] = runtime.health()
        try:
            owners = w.client.mget([u.keys.key("lease") for u in w.units.values()])
            holders = {n: (text(o) or None) for n, o in zip(w.units, owners, strict=True)}
        except w._errors:
            holders = {}
        standby = {n: holders.get(n) for n in w.names if n not in reports}
        statuses = [r["status"] for r in reports.values()] + (["down"] if w.error else [])
        reasons = ([f"state store failing: {w.error}"] if w.error else []) + [
            f"{name}: {reason}" for name, r in reports.items() for reason in r["reasons"]]
        reasons += [f"standby: stream '{n}' is written by worker {h or '(none yet)'}; this one "
                    "takes it over if that one stops" for n, h in standby.items()]
        return {"status": max(statuses, key=SEVERITY.index, default="ok"), "reasons": reasons,
                "worker": w.worker_id, "live_workers": len(w.live),
                "share": fair_share(len(w.names), len(w.live)),
                "streams": {"held": list(reports), "standby": standby},
                "components": {"streams": reports}}

    def ready(self) -> tuple[int, dict[str, Any]]:
        """``/health/ready``: 200 while the rounds run and Redis answers."""
        w = self.worker
        if w.error is not None:
            return 503, {"status": "not ready", "reason": w.error}
        if not w._runner.alive:
            return 503, {"status": "not ready", "reason": "not started"}
        return 200, {"status": "ready", "streams": w.held()}


class SpreadHealth(HealthServer):
    """The worker's probes, ``/health/ready`` answered for the whole worker."""

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        if path.split("?", 1)[0] == "/health/ready":
            return self.stream.ready()  # type: ignore[attr-defined]
        return super().answer(path)
