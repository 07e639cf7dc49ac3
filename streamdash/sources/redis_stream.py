"""The ``redis-stream`` source: a Redis Stream read through a consumer group, at least once.

``fetch()`` reads up to ``batch_size`` entries with ``XREADGROUP … BLOCK batch_time`` as the
group's ``consumer`` and returns them as a :class:`~.base.Delivery` whose token is their entry
ids; the consumer hands the token back (``ack()``) once the batch is stored, and the next
fetch sends ``XACK`` for them. So an entry is acknowledged only after it is stored: if the
process dies first, the entry stays in the group's pending list and is delivered again —

* to the same consumer name after a restart: each (re)connection first re-reads this
  consumer's own pending entries (``XREADGROUP … 0``), skipping those still in this process's
  queue, then goes on with new ones (``>``);
* to another consumer: every ``claim_every`` seconds ``XAUTOCLAIM`` takes over entries idle
  for ``claim_idle`` seconds in any consumer's pending list (a dead instance's).

A redelivered entry meets dedup and counts once when the schema's key is the entry id
(``id_field``, see docs/sources.md). Backpressure: with ``max_in_flight`` entries read and not
yet acknowledged the source reads nothing more; while the queue is full the producer does not
fetch at all. Connection failures are retried (the one retry helper, for at most ``max_time``
per fetch) and each attempt is an ingestion error; then the fetch fails visibly.

Entries: with ``payload_field`` set, that field holds the record as JSON (mapped like any
push payload, :class:`~.push.PayloadDecoder`); without, the entry's field/value pairs are the
record (values as text; ``fields`` casts them). An entry larger than ``max_payload_bytes`` is
refused (acknowledged, counted, reported), its bytes skipped as they arrive (:mod:`.resp`).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

import redis
from pydantic import BeforeValidator, Field
from redis.backoff import NoBackoff
from redis.maint_notifications import MaintNotificationsConfig
from redis.retry import Retry

from ..errors import ConfigError, SourceError
from ..params import Bool, Duration
from .base import SECTION, Delivery
from .options import url_of
from .push import PushParams, PushSource
from .redis_entries import EntryReader, packed
from .resp import RespParser
from .retry import call_with_retries

log = logging.getLogger("streamdash.sources.redis")

Name = Annotated[str, Field(min_length=1, max_length=256)]
_START = re.compile(r"^(\$|0|\d{1,20}(-\d{1,20})?)$")
#: Entry ids per XACK command (one round trip each).
ACK_CHUNK = 10_000


def _start_id(value: Any) -> str:
    text = str(value).strip()
    if not _START.match(text):
        raise ValueError(f"expected '$' (new entries), '0' (the whole stream) or an entry id "
                         f"such as 1700000000000-0, got {text!r}")
    return text


class RedisStreamParams(PushParams):
    """Settings of ``source.type: redis-stream`` (and :class:`~.push.PushParams`)."""

    url: url_of("redis", "rediss", "unix", need_host=False) | None = None  # type: ignore
    stream: Name | None = None
    group: Name = "streamdash"
    consumer: Annotated[str, Field(max_length=256)] = ""  # "": streamdash-<source name>
    start: Annotated[str, BeforeValidator(_start_id)] = "$"
    create_group: Bool = True
    payload_field: Annotated[str, Field(max_length=256)] = ""
    id_field: Annotated[str, Field(max_length=256)] = ""
    claim_idle: Annotated[Duration, Field(ge=0.001, le=7 * 86400)] = 60.0
    claim_every: Annotated[Duration, Field(ge=0.001, le=86400)] = 30.0
    read_timeout: Annotated[Duration, Field(ge=0.01, le=3600)] = 10.0
    max_time: Annotated[Duration, Field(ge=0.0, le=3600)] = 10.0


def _transient(exc: BaseException) -> bool:
    """Worth reconnecting for: the connection broke or timed out (not bad credentials)."""
    if isinstance(exc, redis.AuthenticationError):
        return False
    return isinstance(exc, (redis.ConnectionError, redis.TimeoutError, OSError))


class RedisStreamSource(PushSource):
    """Entries of a Redis Stream through a consumer group (see the module docstring)."""

    kind = "redis-stream"
    Params = RedisStreamParams

    def __init__(self, name: str, params: RedisStreamParams, *,
                 on_error: Callable[[dict[str, Any]], None] | None = None,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic):
        if params.url is None or params.stream is None:
            raise ConfigError(f"{SECTION}.{'url' if params.url is None else 'stream'}",
                              "required for a redis-stream source")
        if params.read_timeout <= params.batch_time:
            raise ConfigError(f"{SECTION}.read_timeout", "must be longer than batch_time (the "
                                                         "server answers a read after it)")
        super().__init__(name or "redis-stream", params, params.url, params.password,
                         max_time=params.max_time, on_error=on_error, clock=clock,
                         monotonic=monotonic)
        self.url = params.url
        self.stream, self.group = params.stream.encode(), params.group.encode()
        self.consumer = (params.consumer or f"streamdash-{self.name}").encode()
        self.entries = EntryReader(params, self.refusals, params.payload_field, params.id_field)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._acked = threading.Event()
        self._pool: redis.ConnectionPool | None = None
        self._conn: Any = None               # the pool's connection this source uses
        self._in_flight: set[bytes] = set()  # read, not yet XACKed (stored or not)
        self._to_ack: list[bytes] = []       # stored: XACK at the next fetch
        self._recover = True                 # (re)connected: set up, re-read own pending
        self._pool_used = False
        self._cursor = b"0"                  # own pending entries after this id, then ">"
        self._claim_from, self._next_claim = b"0-0", 0.0
        self.connected = False
        self.stats = {"entries": 0, "acked": 0, "claimed": 0, "redelivered": 0,
                      "reconnects": 0, "failed_fetches": 0}

    # -- Source protocol ---------------------------------------------------------------------
    def fetch(self) -> list[Any]:
        """Up to ``batch_size`` entries as records, waiting at most ``batch_time``; acknowledges
        what was stored since the last fetch first. SourceError when Redis stays unreachable
        for ``max_time``."""
        if self._stop.is_set():
            return []
        try:
            entries = call_with_retries(self._read, self.retry, self._stop,
                                        retryable=self._retryable, on_retry=self._on_retry,
                                        on_giveup=self._on_giveup, monotonic=self.monotonic)
        except redis.ResponseError as exc:
            self.stats["failed_fetches"] += 1
            raise SourceError(f"{self.name}: {self.display_url} stream {self.p.stream!r}: "
                              f"{self.redactor.text(str(exc))}", source=self.name,
                              kind="redis_error") from None
        except (redis.RedisError, OSError) as exc:
            if self._stop.is_set():
                return []
            self.stats["failed_fetches"] += 1
            raise SourceError(f"{self.name}: {self.display_url}: {self._reason(exc)}",
                              source=self.name, kind=self._kind(exc)) from None
        records, ids = self.entries.records(entries, self.clock())
        self.stats["entries"] += len(entries)
        self.refusals.flush(self.errors, self.display_url)
        return Delivery(records, ids) if ids else records

    def ack(self, token: Any) -> None:
        """The entries ``token`` names are stored: ``XACK`` them at the next fetch."""
        with self._lock:
            self._to_ack.extend(token)
        self._acked.set()

    def interrupt(self) -> None:
        """Stop retrying now (a read in progress ends within ``batch_time``)."""
        self._stop.set()
        self._acked.set()

    def close(self) -> None:
        """Acknowledge what was stored (one attempt), then close the connections."""
        self._stop.set()
        if self._pool is not None:
            try:
                self._flush_acks()
            except (redis.RedisError, OSError) as exc:
                log.warning("%s: could not acknowledge %d stored entries at shutdown (%s); "
                            "Redis delivers them again", self.name, len(self._to_ack),
                            self._reason(exc))
            self._pool.disconnect()

    def describe(self) -> dict[str, Any]:
        """URL (password masked), stream, group, consumer, state and counters."""
        with self._lock:
            in_flight, waiting = len(self._in_flight), len(self._to_ack)
        return {**super().describe(), "url": self.display_url, "stream": self.p.stream,
                "group": self.p.group, "consumer": self.consumer.decode(),
                "connected": self.connected, "in_flight": in_flight, "acks_waiting": waiting,
                "stats": dict(self.stats), "refused": self.refusals.snapshot(),
                "ingest_errors": self.errors.snapshot()}

    # -- one attempt ---------------------------------------------------------------------------
    def _read(self) -> list[Any]:
        """Acknowledge, then read: claimed entries, own pending ones, or new ones. The
        acknowledgements go in the same write as a read of new entries (one round trip
        instead of two per batch: ~14 % of the source's time was the XACK's own)."""
        if self._recover:
            self._setup()
        with self._lock:
            ids, self._to_ack = self._to_ack, []
            # The ids being acknowledged leave the in-flight set once their XACK is answered.
            room = self.p.max_in_flight - len(self._in_flight) + len(ids)
        acks = [packed((b"XACK", self.stream, self.group, *ids[i:i + ACK_CHUNK]))
                for i in range(0, len(ids), ACK_CHUNK)]
        try:
            if room <= 0 or self.monotonic() >= self._next_claim or self._cursor != b">" \
                    or self._stop.is_set():
                self._acknowledged(ids, self._commands(acks))
                acks, ids = [], []
            if room <= 0:  # stop reading until the pipeline catches up
                self._acked.clear()
                self._acked.wait(self.p.batch_time)
                return []
            count = min(self.p.batch_size, room)
            entries = self._claim(count) if self.monotonic() >= self._next_claim else []
            if not entries and self._cursor != b">":
                entries = self._own_pending(count)
            if not entries and not self._stop.is_set():
                replies = self._commands(acks + [packed(
                    (b"XREADGROUP", b"GROUP", self.group, self.consumer, b"COUNT", count,
                     b"BLOCK", int(self.p.batch_time * 1000), b"STREAMS", self.stream, b">"))])
                self._acknowledged(ids, replies[:-1])
                ids = []
                entries = replies[-1][0][1] if replies[-1] else []
        finally:
            if ids:  # not acknowledged (XACK is idempotent: all are sent again next time)
                with self._lock:
                    self._to_ack[:0] = ids
        with self._lock:
            self._in_flight.update(e[0] for e in entries)
        return entries

    def _acknowledged(self, ids: list[bytes], replies: list[Any]) -> None:
        """The XACKs of ``ids`` were answered: they are done with."""
        if ids:
            with self._lock:
                self._in_flight.difference_update(ids)
            self.stats["acked"] += len(ids)

    def _setup(self) -> None:
        """After (re)connecting: make sure the group exists, re-read own pending entries."""
        if self.p.create_group:
            try:
                self._command(b"XGROUP", b"CREATE", self.stream, self.group, self.p.start,
                              b"MKSTREAM")
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        if self._pool_used:
            self.stats["reconnects"] += 1
        self._cursor, self._recover, self._pool_used = b"0", False, True
        self.connected = True

    def _own_pending(self, count: int) -> list[Any]:
        """This consumer's pending entries after the cursor, those not in flight here (read
        before a restart or a lost reply); the cursor moves to ``>`` when there are none."""
        reply = self._command(b"XREADGROUP", b"GROUP", self.group, self.consumer, b"COUNT",
                              count, b"STREAMS", self.stream, self._cursor)
        found = reply[0][1] if reply else []
        if not found:
            self._cursor = b">"
            return []
        self._cursor = found[-1][0]
        fresh = self._not_in_flight(found)
        self.stats["redelivered"] += len(fresh)
        return fresh

    def _claim(self, count: int) -> list[Any]:
        """Entries idle for ``claim_idle`` in any consumer's pending list (``XAUTOCLAIM``),
        one page per fetch until the scan wraps, then again ``claim_every`` seconds later."""
        reply = self._command(b"XAUTOCLAIM", self.stream, self.group, self.consumer,
                              int(self.p.claim_idle * 1000), self._claim_from, b"COUNT", count)
        self._claim_from = reply[0]
        if self._claim_from == b"0-0":
            self._next_claim = self.monotonic() + self.p.claim_every
        claimed = self._not_in_flight(reply[1])
        self.stats["claimed"] += len(claimed)
        return claimed

    def _not_in_flight(self, entries: list[Any]) -> list[Any]:
        with self._lock:
            return [e for e in entries if e[0] not in self._in_flight]

    def _flush_acks(self) -> None:
        """``XACK`` what the consumer stored; on failure they wait for the next attempt."""
        with self._lock:
            ids, self._to_ack = self._to_ack, []
        try:
            self._acknowledged(ids, self._commands(
                [packed((b"XACK", self.stream, self.group, *ids[i:i + ACK_CHUNK]))
                 for i in range(0, len(ids), ACK_CHUNK)]))
        except BaseException:
            with self._lock:
                self._to_ack[:0] = ids
            raise

    def _command(self, *args: Any) -> Any:
        """One command on a pooled connection, its raw reply (errors raised)."""
        return self._commands([packed(args)])[0]

    def _commands(self, commands: list[bytes]) -> list[Any]:
        """Commands (packed) sent in one write on one pooled connection, their raw replies in
        order; the first error reply is raised once every reply is read (the connection
        stays in step)."""
        if not commands:
            return []
        # One connection, kept: only the producer's thread sends commands, and a connection
        # is never left with a reply unread (all are read, or it is closed). Taking it from
        # the pool for each command cost a can_read() poll of the socket (~6 % of the time);
        # after a disconnect the next send connects it again.
        conn = self._conn
        if conn is None:
            conn = self._conn = (self._pool or self._connect()).get_connection()
        try:
            conn.send_packed_command([b"".join(commands)], check_health=False)
            replies = [conn.read_response() for _ in commands]
        except BaseException:
            conn.disconnect()
            raise
        for reply in replies:
            if isinstance(reply, redis.ResponseError):
                if "NOGROUP" in str(reply):
                    self._recover = True  # the group (or stream) is gone: create it again
                raise reply
        return replies

    def _connect(self) -> redis.ConnectionPool:
        p = self.p
        kw: dict[str, Any] = {
            "parser_class": RespParser.limited(p.max_payload_bytes), "protocol": 2,
            "socket_connect_timeout": p.connect_timeout, "socket_timeout": p.read_timeout,
            "retry": Retry(NoBackoff(), 0), "health_check_interval": 0,
            "maint_notifications_config": MaintNotificationsConfig(enabled=False),
            "client_name": self.consumer.decode()}
        if p.username:
            kw["username"] = p.username
        if p.password:
            kw["password"] = p.password
        if p.tls or self.url.startswith("rediss://"):
            kw.update(connection_class=redis.SSLConnection, ssl_ca_certs=p.ca_file or None,
                      ssl_certfile=p.cert_file or None, ssl_keyfile=p.key_file or None,
                      ssl_cert_reqs="none" if p.tls_insecure else "required",
                      ssl_check_hostname=not p.tls_insecure)
        self._pool = redis.ConnectionPool.from_url(self.url, **kw)
        return self._pool

    # -- failures ------------------------------------------------------------------------------
    def _retryable(self, exc: BaseException) -> bool:
        """A broken connection, or a group deleted under us (created again on the retry)."""
        return _transient(exc) or (self.p.create_group and isinstance(exc, redis.ResponseError)
                                   and "NOGROUP" in str(exc))

    def _on_retry(self, exc: BaseException, tries: int, delay: float) -> None:
        self.connected, self._recover = False, True
        self.errors.report(self._kind(exc), self._reason(exc), url=self.display_url,
                           attempt=tries, next_delay=delay, level=logging.DEBUG)

    def _on_giveup(self, exc: BaseException, tries: int, why: str) -> None:
        self.connected, self._recover = False, True
        if why != "stopped":
            self.errors.report(self._kind(exc), self._reason(exc), url=self.display_url,
                               attempt=tries, level=logging.DEBUG)

    def _reason(self, exc: BaseException) -> str:
        return self.redactor.text(str(exc) or type(exc).__name__)

    @staticmethod
    def _kind(exc: BaseException) -> str:
        if isinstance(exc, redis.AuthenticationError):
            return "auth"
        if isinstance(exc, redis.TimeoutError):
            return "timeout"
        return "connection" if _transient(exc) else "redis_error"

