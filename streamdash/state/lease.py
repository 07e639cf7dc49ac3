"""Who writes a stream: a lease in Redis, held by one worker at a time.

:class:`LeaseKeeper` holds the lease of one stream for a worker — a redis-py
:class:`~redis.lock.Lock` on ``P:S:lease`` whose value is the worker's id and whose TTL
(``state.lease_ttl``) the holder renews every third of it. A worker that does not hold it
waits as a standby, trying again at the same pace; when the holder dies (``kill -9``, a lost
machine) its lease expires and a standby takes the stream within ``lease_ttl`` plus one try.

The holder counts itself the holder only while its last renewal is younger than two thirds of
the TTL (:meth:`LeaseKeeper.held`): a holder that cannot reach Redis stops writing before its
lease can expire and pass to another worker, so two workers never write one stream — within
the clocks' drift over one TTL. A holder whose lease expired meanwhile (Redis away longer than
the TTL) takes it back if it is free and ``resume()`` says no other worker wrote the stream
since (checked once the lease is held again, so nobody can write in between): its pipeline
carries on, its local stores holding what it could not write. A holder that finds its lease
taken, or the stream written by another, calls ``on_lost``: the worker then stops that
pipeline (a single-stream worker exits, and its supervisor restarts it as a standby).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import LockNotOwnedError

from ..logs import log_event
from ..threads import STOP_TIMEOUT, Background, ThreadRunner
from .layout import Keys, text
from .redis_conn import errors, unavailable

log = logging.getLogger("streamdash.state")


class LeaseKeeper(Background):
    """Takes, renews and gives up one stream's lease (see the module docstring).

    ``on_acquired()`` runs (in this thread) when the lease is taken — the worker starts its
    pipeline there; ``on_lost()`` when a held lease turned out to be another's; ``resume()``
    says whether an expired lease taken back may carry the pipeline on (default: never).
    """

    def __init__(self, client: Any, keys: Keys, owner: str, ttl: float, *,
                 on_acquired: Callable[[], None], on_lost: Callable[[], None],
                 resume: Callable[[], bool] = lambda: False, url: str = "",
                 monotonic: Callable[[], float] = time.monotonic):
        self.client = client
        self.keys = keys
        self.owner = owner
        self.ttl = ttl
        self.url = url
        self.on_acquired = on_acquired
        self.on_lost = on_lost
        self.resume = resume
        self.monotonic = monotonic
        self.lock = client.lock(keys.key("lease"), timeout=ttl, blocking=False,
                                thread_local=False)
        self.renewed_at: float | None = None
        self.error: str | None = None
        self._taken_back = False  # an expired lease taken again, resume() not yet answered
        self._errors = errors()
        self._runner = ThreadRunner("lease", self._run)

    @property
    def held(self) -> bool:
        """True while the last renewal is younger than two thirds of the TTL."""
        renewed = self.renewed_at
        return renewed is not None and self.monotonic() - renewed < self.ttl * 2 / 3

    def holder(self) -> str | None:
        """The id of the worker holding the lease now (``None``: nobody, or unknown)."""
        try:
            return text(self.client.get(self.keys.key("lease"))) or None
        except self._errors:
            return None

    def _run(self) -> None:
        every = self.ttl / 3
        while True:
            self.step()
            if self._runner.stopping.wait(every):
                return

    def step(self) -> None:
        """One round: renew the lease held, or try to take it."""
        try:
            if self.renewed_at is None:
                if self.lock.acquire(token=self.owner):
                    self.renewed_at = self.monotonic()
                    log_event(log, logging.INFO, "took the stream's lease", worker=self.owner,
                              stream=self.keys.stream, ttl=self.ttl)
                    try:
                        self.on_acquired()
                    except self._errors:  # Redis went away mid take-over: try again later
                        self.renewed_at = None
                        self._release()
                        raise
            else:
                self._renew()
            self.error = None
        except self._errors as exc:
            if type(exc).__name__ == "LockNotOwnedError":
                self._lost()
            else:
                self.error = str(unavailable(exc, self.url))

    def _renew(self) -> None:
        """The TTL again if the lease is still ours, or taken back (see the module docstring);
        ``LockNotOwnedError`` when it is another's."""
        try:
            self.lock.reacquire()
        except LockNotOwnedError:
            if not self.lock.acquire(token=self.owner):
                raise  # another worker holds it
            self._taken_back = True
        if self._taken_back:  # a failed resume() (Redis away again) is asked again next time
            if not self.resume():
                self._taken_back = False
                self._release()
                raise LockNotOwnedError("another worker wrote the stream while this one's "
                                        "lease had expired") from None
            self._taken_back = False
            log_event(log, logging.WARNING, "took the stream's lease back: it expired while "
                      "the state store was away and no other worker wrote the stream",
                      worker=self.owner, stream=self.keys.stream)
        self.renewed_at = self.monotonic()

    def _lost(self) -> None:
        self.renewed_at = None
        log_event(log, logging.ERROR, "lost the stream's lease: another worker writes it now; "
                  "stopping", worker=self.owner, stream=self.keys.stream,
                  holder=self.holder())
        self.on_lost()

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Stop renewing and release the lease if held (a standby takes over at once)."""
        ended = super().stop(timeout)
        if self.renewed_at is not None:
            self.renewed_at = None
            self._release()
        return ended

    def _release(self) -> None:
        try:
            self.lock.release()
        except self._errors:
            pass  # expired, another's, or Redis away: it expires by itself

    def describe(self) -> dict[str, Any]:
        """For ``/health``: whether this worker holds the stream, and who does."""
        return {"held": self.held, "holder": self.holder(), "ttl": self.ttl,
                "error": self.error}
