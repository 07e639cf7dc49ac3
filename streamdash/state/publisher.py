"""The worker side of the ``redis`` backend: the runtime's state written to Redis, batch by batch.

:class:`StatePublisher` follows the runtime's own bounded stores — the ring buffer, the
quarantine, the late/windows/errors logs, the quality monitor's transitions and evaluations,
the reporter's snapshots — by item number (``store.recent.newer_than``), and writes what is new
to the capped Redis streams of ``state/layout.py`` (live records in groups, see
:meth:`StatePublisher._add_records`), then the pulse (metrics, health, freshness,
alert states, the newest id of each channel) and the heartbeat. A batch wakes it (the consumer's
listener only sets an event: the pipeline never waits on Redis); it writes at most once per
``state.flush_interval``, so batches arriving meanwhile go together, and at least once a second
(or once per ``flush_interval`` when that is longer): the heartbeat.

**One moment, one transaction.** What a write holds is read at the consumer's batch boundary
(``Consumer.at_boundary``: the new items of every store, the counters, the pipeline's keyed
state — :mod:`.keyed`) and written in MULTI/EXEC transactions (``pipeline(transaction=True)``),
the last of which holds the counters and the keyed state together: Redis never has the
counters of one batch with the dedup keys or open windows of another. A worker taking the
stream over (:meth:`StatePublisher.adopt`) reads both in one transaction too.

**Acknowledgements.** In a worker a push source's batches are acknowledged once a write holding
them went through (``held_acks``, :mod:`streamdash.pipeline.acks`): the held acknowledgements'
mark is read at the same boundary as the rest, and released only after a ``flush()`` that
succeeded — a worker killed before it leaves them unacknowledged at the broker.

**Redis trouble.** The runtime's stores are the bounded local buffer: while Redis is down the
pipeline goes on, the publisher retries on a jittered backoff (``retry.RetryPolicy``'s
schedule, up to :data:`RETRY_MAX` s) and, once Redis answers, writes everything the stores
still hold. What they no longer hold (more than ``buffer.capacity`` records, or a log's
capacity, arrived meanwhile) is counted — ``state_records_dropped``, ``state_items_dropped`` —
never silently lost. After any failure it first re-reads what Redis has (the ids are explicit
item numbers, so a write that went through before the connection broke is not written twice,
and one that a restarted Redis lost is written again); a Redis that lost the stream entirely
(restarted without persistence, flushed) gets a new epoch and everything still held.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any

from ..logs import log_event
from ..metric_catalog import OUTCOMES
from ..pipeline.acks import HeldAcks
from ..role_settings import StateSection
from ..sources.retry import RetryPolicy
from ..threads import STOP_TIMEOUT, Background, ThreadRunner
from .base import DEFAULT_STREAM
from .channels import quality_state, runtime_channels
from .keyed import KeyedState
from .layout import FIELD, Keys, decode, encode, entry_id, entry_number, text
from .memory import runtime_info, runtime_pulse
from .redis_conn import errors, shown_url, unavailable

log = logging.getLogger("streamdash.state")

#: Longest wait (seconds) between two attempts while Redis does not answer.
RETRY_MAX = 5.0
#: Longest gap (seconds) between two writes: the heartbeat, metrics and health stay fresh.
HEARTBEAT_EVERY = 1.0
#: Stream entries sent per round trip (a large backlog goes in several).
CHUNK = 2000
#: Most live records in one entry of the records stream.
GROUP_RECORDS = 1000


class StatePublisher(Background):
    """Writes one runtime's state to Redis (see the module docstring); a ``Service``.

    Attach it to the runtime (``runtime.attach("state", publisher)``): it then starts and
    stops with the pipeline and its :meth:`status` shows in ``/health``.
    """

    def __init__(self, runtime: Any, client: Any, params: StateSection, url: str, *,
                 stream: str = DEFAULT_STREAM, worker_id: str | None = None,
                 monotonic: Callable[[], float] = time.monotonic):
        self.runtime = runtime
        self.client = client
        self.params = params
        self.url = url
        self.keys = Keys(params.key_prefix, stream)
        self.worker_id = worker_id or uuid.uuid4().hex[:12]
        self.monotonic = monotonic
        self.channels = runtime_channels(runtime, params)
        self.keyed = KeyedState(runtime.processor, runtime.metrics, params.max_keyed_bytes,
                                stream)
        self.epoch: str | None = None
        self.writes = 0
        self.error: str | None = None
        self.written_at: float | None = None
        self._errors = errors()
        #: A worker's push source acknowledgements, released once a write holds their batches.
        self.held_acks: HeldAcks | None = None
        self._written_mark = 0  # held_acks.mark() read with the last write that went through
        self._synced = False
        self._replay = False
        self._wake = threading.Event()
        self._hurry = threading.Event()  # write now, not at the end of the flush interval
        self._lock = threading.Lock()  # one flush at a time (the thread, stop(), a test)
        self._runner = ThreadRunner("state-publisher", self._run)
        #: Whether this process may write the stream now (a worker: while it holds the lease).
        self.may_write: Callable[[], bool] = lambda: True
        #: What ``status()`` says about the lease (a worker sets it).
        self.lease: Callable[[], dict[str, Any]] | None = None
        runtime.add_batch_listener(self.observe_batch)

    # -- the loop -----------------------------------------------------------------------------
    def observe_batch(self, _batch: Any = None, _result: Any = None) -> None:
        """Batch listener (consumer thread): wake the publisher; never waits on Redis."""
        self._wake.set()

    def hurry(self) -> None:
        """Write what is new now rather than at the end of the flush interval: the push
        source waits for it (its held acknowledgements are at their bound,
        ``HeldAcks.on_full``). Without it a worker's source would take at most
        ``max_pending_acks`` messages per ``flush_interval``."""
        self._hurry.set()
        self._wake.set()

    def request_stop(self) -> None:
        """Ask the loop to finish now, even in the middle of its flush interval."""
        super().request_stop()
        self.hurry()

    def _run(self) -> None:
        stopping = self._runner.stopping
        backoff: Iterator[float] | None = None
        gap = self.params.flush_interval
        while not stopping.is_set():
            if self.flush():
                backoff = None
                self._hurry.wait(gap)  # batches arriving meanwhile go together
                self._hurry.clear()
                self._wake.wait(max(0.0, HEARTBEAT_EVERY - gap))  # a batch, or the heartbeat
                self._wake.clear()
            else:
                backoff = backoff or RetryPolicy(max_tries=0, max_time=0, base=gap,
                                                 cap=RETRY_MAX).waits()
                stopping.wait(next(backoff))

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Stop the loop, then write once more (the final figures) unless Redis is away."""
        if not self._runner.alive:
            return True
        self.request_stop()
        ended = self.join(timeout)
        if self.error is None:
            self.flush()
        return ended

    # -- one write ------------------------------------------------------------------------------
    def flush(self) -> bool:
        """Write what is new now; True when Redis took it (else the error is kept, counted
        and logged once per outage, and the next call starts by re-reading what Redis has).
        Then the push source's acknowledgements held for what was written go to it."""
        with self._lock:
            written, mark = self._flush(), self._written_mark
        if written and self.held_acks is not None:
            self.held_acks.release(mark)
        return written

    def _flush(self) -> bool:
        if not self.may_write():  # another worker holds the stream (or may, soon)
            self.error = "not writing: this worker does not hold the stream's lease"
            self._synced = False
            return False
        try:
            if not self._synced:
                self._sync()
            if not self._write():  # the store lost the stream meanwhile (flushed)
                self._sync()
                self._write()
        except self._errors as exc:
            self._failed(exc)
            return False
        if self.error is not None:
            log_event(log, logging.INFO, "state store reachable again",
                      url=shown_url(self.url), stream=self.keys.stream)
        self.error = None
        return True

    def _failed(self, exc: BaseException) -> None:
        self._synced = False
        self.runtime.metrics.inc("state_write_errors")
        message = str(unavailable(exc, self.url))
        if self.error is None:  # once per outage: the pipeline goes on, the store catches up
            log_event(log, logging.WARNING, "cannot write to the state store: keeping what "
                      "the local buffer holds until it answers", reason=message,
                      stream=self.keys.stream)
        self.error = message

    def _take(self) -> tuple[int, list[Any], dict[str, Any], tuple[dict[str, Any], int] | None]:
        """What one write holds, read between two batches: the held acknowledgements' mark
        (first: a token the producer holds is counted in the metrics read after it), every
        channel's new items, the metrics, the keyed state (``None``: Redis holds it already)."""
        mark = self.held_acks.mark() if self.held_acks is not None else 0
        return (mark, [ch.read(ch.seen) for ch in self.channels],
                self.runtime.metrics.snapshot(), self.keyed.capture())

    def _write(self) -> bool:
        """One write of everything new; False when it found the stream's epoch gone."""
        try:
            mark, reads, metrics, captured = self.runtime.consumer.at_boundary(
                self._take, HEARTBEAT_EVERY)
        except TimeoutError:  # a long batch: the heartbeat now, the rest once it is done
            self.client.set(self.keys.alive, self.worker_id,
                            px=int(self.params.heartbeat_ttl * 1000))
            return True
        keyed = self.keyed.encode(captured) if captured is not None else None
        # MULTI/EXEC: the last transaction holds the counters and the keyed state together.
        pipe = self.client.pipeline(transaction=True)
        pending: list[int] = []
        lost: dict[str, int] = {}  # counters added once the write went through
        for ch, (items, total) in zip(self.channels, reads, strict=True):
            gone = total - ch.seen - len(items)
            if gone > 0 and not self._replay:  # counted once written (a failure reads again)
                lost[ch.lost] = lost.get(ch.lost, 0) + gone
            first = total - len(items) + 1
            if ch.name == "records":
                lost["state_records_published"] = len(items)
            key = self.keys.channel(ch.name)
            if ch.name == "records":
                self._add_records(pipe, key, items, ch.base + first, ch.base + total - ch.cap)
            else:
                for i, item in enumerate(items):
                    pipe.xadd(key, {FIELD: encode(item)}, id=entry_id(ch.base + first + i),
                              maxlen=ch.cap, approximate=True)
                    if len(pipe) >= CHUNK:
                        pipe.execute()
            pending.append(total)
        tops = {ch.name: ch.base + n for ch, n in zip(self.channels, pending, strict=True)}
        if keyed is not None:
            pipe.set(self.keys.keyed, keyed[0])
        pipe.hset(self.keys.pulse, mapping=self._pulse(tops, metrics))
        pipe.set(self.keys.alive, self.worker_id, px=int(self.params.heartbeat_ttl * 1000))
        pipe.hget(self.keys.meta, "epoch")
        epoch = pipe.execute()[-1]
        self.runtime.metrics.add_many(lost)
        if keyed is not None:
            self.keyed.saved(keyed[1])
        for ch, n in zip(self.channels, pending, strict=True):
            ch.seen = n
        self._replay = False
        self._written_mark = mark
        self.writes += 1
        self.written_at = self.runtime.clock()
        self.runtime.metrics.inc("state_writes")
        if (epoch.decode() if isinstance(epoch, bytes) else epoch) != self.epoch:
            self._synced = False
            return False
        return True

    def _add_records(self, pipe: Any, key: str, items: list[Any], first: int,
                     oldest_kept: int) -> None:
        """Live records go in groups: one entry holds consecutive records (a JSON array), its
        id the number of its last, so an id is still a record's sequence number (the chart's
        cursor) while a read of 10,000 records parses a few entries, not 10,000 (redis-py
        parses replies in Python). Entries older than the newest ``capacity`` records go
        (``MINID ~``). A group holds at most :data:`GROUP_RECORDS` records and half of
        ``state.max_entry_bytes``, so a reader never refuses one for its size."""
        budget = self.params.max_entry_bytes // 2
        group: list[bytes] = []
        size = 0
        minid = entry_id(max(1, oldest_kept + 1))

        def add(last: int) -> None:
            pipe.xadd(key, {FIELD: b"[" + b",".join(group) + b"]"}, id=entry_id(last),
                      minid=minid, approximate=True)
            if len(pipe) >= CHUNK:
                pipe.execute()

        for i, record in enumerate(items):
            data = encode(record)
            if group and (len(group) >= GROUP_RECORDS or size + len(data) > budget):
                add(first + i - 1)
                group, size = [], 0
            group.append(data)
            size += len(data) + 1
        if group:
            add(first + len(items) - 1)

    def _pulse(self, tops: dict[str, int], metrics: dict[str, Any]) -> dict[str, bytes | str]:
        rt = self.runtime
        return {**{f"top:{name}": str(n) for name, n in tops.items()},
                "metrics": encode(metrics), "health": encode(rt.health()),
                "pulse": encode(asdict(runtime_pulse(rt))),
                "quality": encode(quality_state(rt.monitor)), "worker": self.worker_id,
                "written_at": encode(rt.clock())}

    def adopt(self) -> dict[str, float]:
        """Carry on the stream as its last writer left it in Redis (a worker taking a stream
        over, or starting again): its counters are added to this runtime's, which must not
        have counted anything yet, and its keyed state goes to this runtime's pipeline, which
        must not have started (both read in one transaction: they are of the same batches).
        Returns the counters (``{}`` for a new stream)."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hget(self.keys.pulse, "metrics")
        pipe.get(self.keys.keyed)
        raw, keyed = pipe.execute()
        try:
            counters = decode(raw, self.params.max_entry_bytes).get("counters") \
                if raw is not None else {}
        except ValueError:
            counters = {}
        adopted = {str(k): v for k, v in (counters or {}).items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0}
        # Records the last writer had fetched but not yet processed when it last wrote died
        # with it: they are dropped, and counted so, or the accounting identity would break.
        unprocessed = adopted.get("records_in", 0) - sum(
            adopted.get(f"records_{o}", 0) for o in OUTCOMES)
        if unprocessed > 0:
            adopted["records_dropped"] = adopted.get("records_dropped", 0) + unprocessed
        self.runtime.metrics.add_many(adopted)
        self.keyed.restore(keyed)
        if adopted:
            log_event(log, logging.INFO, "carrying on the stream's counters",
                      stream=self.keys.stream, records_in=adopted.get("records_in", 0),
                      lost_in_flight=max(0, unprocessed))
        return adopted

    def wrote_last(self) -> bool:
        """Whether no other worker wrote the stream since this one did: the pulse names its
        last writer (no pulse: nobody wrote it yet, or the store lost it)."""
        writer = self.client.hget(self.keys.pulse, "worker")
        return writer is None or text(writer) == self.worker_id

    # -- what Redis has ---------------------------------------------------------------------------
    def _sync(self) -> None:
        """Line the channels up with what Redis holds (first write, and after a failure)."""
        self.keyed.forget()  # written again whatever Redis holds: it may have lost it
        pipe = self.client.pipeline(transaction=False)
        pipe.hget(self.keys.meta, "epoch")
        for ch in self.channels:
            pipe.xrevrange(self.keys.channel(ch.name), count=1)
        epoch, *newest = pipe.execute()
        tops = [entry_number(rows[0][0]) if rows else 0 for rows in newest]
        info = encode(runtime_info(self.runtime, self.keys.stream).to_json())
        if epoch is None:  # a new store, or one that lost this stream (restart, flush)
            if self.epoch is not None:
                log_event(log, logging.WARNING, "the state store lost this stream's data: "
                          "writing again what the worker holds", stream=self.keys.stream)
                self.runtime.metrics.inc("state_store_resets")
                self._replay = True  # written once already: not lost by us
            self.client.delete(*self.keys.all())
            self.epoch = uuid.uuid4().hex[:12]
            for ch in self.channels:
                ch.seen = 0  # the base stays: ids only grow
        else:
            theirs = epoch.decode() if isinstance(epoch, bytes) else str(epoch)
            for ch, top in zip(self.channels, tops, strict=True):
                if self.epoch is None:  # this worker's first write: after what is there
                    ch.base, ch.seen = top, 0
                elif theirs == self.epoch:  # reconnected: exactly what went through
                    ch.seen = max(0, top - ch.base)
                else:  # another writer started the stream over: go on after it
                    ch.base = top - ch.seen
            self.epoch = theirs
        self.client.hset(self.keys.meta, mapping={"epoch": self.epoch, "info": info})
        self._synced = True

    # -- health ------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """``/health``'s ``components.state``: where it writes, whether it can, how far behind."""
        held = self.channels[0]
        backlog = max(0, self.runtime.buffer.last_seq - held.seen)
        self.runtime.metrics.set_gauge("state_backlog", backlog)
        out = {"backend": "redis", "url": shown_url(self.url), "stream": self.keys.stream,
               "ok": self.error is None, "error": self.error, "worker": self.worker_id,
               "epoch": self.epoch, "writes": self.writes, "written_at": self.written_at,
               "backlog": backlog, "alive": self.alive}
        if self.lease is not None:
            out["lease"] = self.lease()
        if self.held_acks is not None:
            out["acks_pending"] = self.held_acks.pending()
        return out
