"""A push source's acknowledgements held until the batches are safe beyond this process.

In one process (``streamdash run``) a batch is safe once the ring buffer and the quarantine
hold it: the consumer acknowledges it there. A worker's state lives in Redis, written by the
state publisher every ``state.flush_interval``: a batch acknowledged when stored locally but
killed (``kill -9``) before that write would be acknowledged to the broker and in no store.
So a worker gives its pipeline a :class:`HeldAcks` (``StatePublisher.held_acks``):

* the producer counts each token it fetches (:meth:`HeldAcks.track`); the consumer (and the
  producer, for a fetch that held nothing to store or a batch the ``drop_oldest`` policy
  discarded) hands it to :meth:`HeldAcks.hold` once stored — never waiting: the consumer
  holds the batch boundary the publisher reads at;
* the publisher reads :meth:`HeldAcks.mark` at that boundary, with the stores, counters and
  keyed state it is about to write, and once the write went through calls
  :meth:`HeldAcks.release` with it: every token held up to the mark goes to the source;
* while ``limit`` messages fetched are not yet acknowledged (queued, stored, or waiting for
  the write) the producer does not read the source (:meth:`HeldAcks.wait_for_room`): a state
  store that does not answer slows consumption (backpressure, the far end keeps the
  messages), it never makes the worker drop any. So at most ``limit`` messages and one fetch
  wait for their acknowledgement.

Tokens are the sources' own (entry ids, packet ids); one counts as ``len(token)`` messages
(both push sources' tokens are lists, one item per message), anything without a length as one.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from ..metrics import Metrics

log = logging.getLogger("streamdash.pipeline")


def acknowledge(ack: Callable[[Any], None], token: Any, metrics: Metrics) -> None:
    """Hand ``token`` to a push source's ``ack``; a failure is logged and counted
    (``ack_errors``), never raised: the records are stored, and the far end delivering
    them again is what an unacknowledged batch costs."""
    try:
        ack(token)
    except Exception:
        metrics.inc("ack_errors")
        log.exception("acknowledging a stored batch to the source failed")


def _size(token: Any) -> int:
    try:
        return max(1, len(token))
    except TypeError:
        return 1


class HeldAcks:
    """Acknowledgements held until a write (see the module docstring); thread-safe.

    ``ack`` is the source's :meth:`~streamdash.sources.base.Source.ack`; ``limit`` the most
    messages waiting before the producer stops reading (``state.max_pending_acks``). The
    gauge ``acks_pending`` says how many wait now.
    """

    def __init__(self, ack: Callable[[Any], None], metrics: Metrics, limit: int):
        self.ack = ack
        self.metrics = metrics
        self.limit = limit
        self._held: deque[tuple[int, Any, int]] = deque()  # (sequence, token, messages)
        self._messages = 0
        self._seq = 0  # tokens held so far
        self._cond = threading.Condition()
        #: Called when the producer starts waiting for room (the publisher then writes at
        #: once instead of at the end of its flush interval: the source waits for that write).
        self.on_full: Callable[[], None] = lambda: None

    def track(self, token: Any) -> None:
        """Count ``token``'s messages as waiting from now (the producer, as it fetches them)
        until their acknowledgement goes to the source."""
        with self._cond:
            self._messages += _size(token)
            waiting = self._messages
        self.metrics.set_gauge("acks_pending", waiting)

    def hold(self, token: Any) -> None:
        """Keep ``token`` (counted by :meth:`track`) until a write that holds its batch went
        through; never waits."""
        with self._cond:
            self._seq += 1
            self._held.append((self._seq, token, _size(token)))

    def mark(self) -> int:
        """How many tokens were held so far: read with what a write holds (at the batch
        boundary), and given to :meth:`release` once that write went through."""
        with self._cond:
            return self._seq

    def release(self, upto: int) -> int:
        """Hand the source every token held up to ``upto`` (a :meth:`mark`), oldest first;
        how many."""
        tokens = []
        with self._cond:
            while self._held and self._held[0][0] <= upto:
                _, token, size = self._held.popleft()
                tokens.append(token)
                self._messages -= size
            held = self._messages
            self._cond.notify_all()
        self.metrics.set_gauge("acks_pending", held)
        for token in tokens:  # outside the lock: a source's ack may touch the network
            acknowledge(self.ack, token, self.metrics)
        return len(tokens)

    def full(self) -> bool:
        """True while ``limit`` messages or more wait for their acknowledgement."""
        with self._cond:
            return self._messages >= self.limit

    def wait_for_room(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for fewer than ``limit`` waiting; True when so.
        Asks for the write that makes room first (:attr:`on_full`)."""
        self.on_full()
        with self._cond:
            return self._cond.wait_for(lambda: self._messages < self.limit, timeout)

    def pending(self) -> dict[str, int]:
        """Messages waiting for their acknowledgement, batches stored and held for a write,
        and the bound (for ``/health``)."""
        with self._cond:
            return {"messages": self._messages, "batches": len(self._held), "limit": self.limit}


def defer_acks(producer: Any, consumer: Any, limit: int) -> HeldAcks | None:
    """Make ``producer`` and ``consumer`` hold their push source's acknowledgements in a
    :class:`HeldAcks` of at most ``limit`` messages (the producer waits on its bound), which
    it returns; ``None`` for a source that is not pushed (nothing to acknowledge)."""
    if not producer.source.push:
        return None
    held = HeldAcks(producer.source.ack, producer.metrics, limit)
    producer.ack = consumer.ack = held.hold
    producer.held = held
    return held
