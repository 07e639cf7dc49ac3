"""The ``mqtt`` source: messages of an MQTT broker (paho-mqtt 2), at least once with QoS 1.

A reader thread owns the connection (the :class:`~streamdash.threads.Service` shape: ``start()``
idempotent — the first ``fetch()`` calls it — and ``stop(timeout)`` joins it); paho's network
thread runs for each connection (``loop_start``/``loop_stop``). Incoming messages go into a
bounded inbox that ``fetch()`` drains: up to ``batch_size`` messages, waiting at most
``batch_time`` for them.

At least once (QoS 1): messages are acknowledged (PUBACK) only after the consumer stored the
batch (``ack()``), the session is persistent (``clean_session: false``: the broker keeps the
subscription and the unacknowledged messages while streamdash is away, for ``session_expiry``
with MQTT 5) and the client id is fixed, so after a crash or a broker restart the broker sends
again what was not acknowledged. An acknowledgement for a message received on an earlier
connection is not sent (its packet id may name another message now): the broker sends that
message again and dedup counts it once, given a key in the payload (MQTT has no message id
across sessions; see docs/sources.md).

Backpressure: with MQTT 5 the broker never has more than ``max_in_flight`` unacknowledged
QoS 1 messages out to us (Receive Maximum); and when the inbox holds ``max_in_flight``
messages, paho's thread stops reading (TCP then slows the broker down) until ``fetch()`` makes
room. Nothing is dropped here; a QoS 0 message the broker cannot queue is dropped by the
broker (mosquitto's ``max_queued_messages``), as QoS 0 allows.

Connections: failures are retried with the one retry helper (full-jitter backoff up to
``backoff_max``), each attempt an ingestion error; while disconnected with nothing buffered,
``fetch()`` fails so ``/health`` and the ``source_down`` alert see it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from ..errors import ConfigError, SourceError
from ..threads import ThreadRunner
from .base import SECTION, Delivery
from .mqtt_client import FastClient
from .mqtt_params import MqttParams
from .mqtt_topics import TopicRouter, parse_topics
from .push import PayloadDecoder, PushSource, tls_context
from .retry import call_with_retries

log = logging.getLogger("streamdash.sources.mqtt")

#: MQTT packet overhead beyond topic and payload (fixed header, packet id, properties).
PACKET_OVERHEAD = 1024
#: A filter nobody subscribes to: unsubscribing from it is the round trip of ``_settle``.
SETTLE_TOPIC = "$streamdash/settle"

__all__ = ["MqttParams", "MqttSource"]


class MqttSource(PushSource):
    """Messages of an MQTT broker (see the module docstring)."""

    kind = "mqtt"
    Params = MqttParams

    def __init__(self, name: str, params: MqttParams, *,
                 on_error: Callable[[dict[str, Any]], None] | None = None,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic):
        if params.url is None or not params.topic:
            raise ConfigError(f"{SECTION}.{'url' if params.url is None else 'topic'}",
                              "required for an mqtt source")
        self.router: TopicRouter = parse_topics(params.topic, f"{SECTION}.topic")
        parts = urlsplit(params.url)
        self.tls = params.tls or parts.scheme == "mqtts"
        self.ssl = tls_context(params) if self.tls else None
        password = params.password or unquote(parts.password or "")
        super().__init__(name or "mqtt", params, params.url, password, max_time=0,
                         on_error=on_error, clock=clock, monotonic=monotonic)
        self.host, self.port = parts.hostname or "", parts.port or (8883 if self.tls else 1883)
        self.username = params.username or unquote(parts.username or "")
        self.password = password
        self.client_id = params.client_id or f"streamdash-{self.name}"
        self.decoder = PayloadDecoder(params.records_path, params.fields, params.scalar_field)
        self.max_packet = params.max_payload_bytes + params.max_topic_bytes + PACKET_OVERHEAD
        self._inbox: deque[tuple[bytes, bytes | int, int, int, int]] = deque()
        self._inbox_bytes = 0
        self._cond = threading.Condition()
        self._ack_lock = threading.Lock()  # no PUBACK while a connection ends or begins
        self._runner = ThreadRunner(f"mqtt-{self.name}", self._run)
        self._stop = self._runner.stopping
        self._gone = threading.Event()     # the current connection ended
        self._closing = threading.Event()  # stop(): end the connection
        self._settled = threading.Event()  # the broker answered the round trip of _settle()
        self._settle_mid: int | None = None
        self._client: FastClient | None = None
        self._generation = 0               # connections so far; tokens name theirs
        self._unacked = 0                  # QoS 1 messages of this connection not acked yet
        self._failing: str | None = None   # why we are not connected
        self._accepted = False             # the broker accepted this connection (CONNACK)
        self._why: tuple[str, str] | None = None  # why the broker did not accept it
        self.connected = False
        self.stats = {"messages": 0, "connects": 0, "reconnects": 0, "acked": 0,
                      "stale_acks": 0, "lost_at_stop": 0}

    # -- lifecycle (the Service shape) ---------------------------------------------------------
    def start(self) -> None:
        """Start the reader thread (idempotent; ``fetch()`` calls it; never after a stop)."""
        with self._cond:
            if not self._stop.is_set():
                self._runner.start()

    def interrupt(self) -> None:
        """Stop fetching and reconnecting now (a wait in ``fetch()``, a reconnect wait). The
        connection stays up until :meth:`stop`: the consumer still drains the queue at a
        shutdown, and the broker must hear those batches' acknowledgements."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def stop(self, timeout: float = 5.0) -> bool:
        """Disconnect (after the acknowledgements already given) and wait for the reader;
        True when it ended within ``timeout``."""
        self.interrupt()
        self._closing.set()  # before _gone: a session starting now sees it (see _session)
        self._gone.set()
        return self._runner.join(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop (see :meth:`stop`); what is left in the inbox is sent again by the broker."""
        self.stop(timeout)
        if self.stats["lost_at_stop"]:
            log.warning("%s: %d QoS 0 message(s) received while stopping were not kept",
                        self.name, self.stats["lost_at_stop"])

    @property
    def alive(self) -> bool:
        """True while the reader thread runs."""
        return self._runner.alive

    # -- Source protocol -------------------------------------------------------------------------
    def fetch(self) -> list[Any]:
        """Up to ``batch_size`` messages as records, waiting at most ``batch_time`` for them;
        SourceError while disconnected with nothing buffered."""
        self.start()
        deadline = self.monotonic() + self.p.batch_time
        with self._cond:
            # A full batch, or all the broker will send before we acknowledge, or the time.
            while len(self._inbox) < self.p.batch_size and not self._stop.is_set() \
                    and not (self._inbox and self._unacked >= self.p.max_in_flight) \
                    and self._inbox_bytes < self.p.max_buffer_bytes:
                left = deadline - self.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            n = min(self.p.batch_size, len(self._inbox))
            taken = [self._inbox.popleft() for _ in range(n)]
            self._inbox_bytes -= sum(len(t[1]) for t in taken if type(t[1]) is bytes)
            self._cond.notify_all()  # room for a reader waiting on a full inbox
            failing = None if self.connected else self._failing
        records = self._records(taken)
        self.refusals.flush(self.errors, self.display_url)
        if not taken and failing and not self._stop.is_set():
            raise SourceError(f"{self.name}: {self.display_url}: {failing}", source=self.name,
                              kind="disconnected")
        return records

    def ack(self, token: Any) -> None:
        """PUBACK the QoS 1 messages ``token`` names, if they came on this connection."""
        with self._ack_lock:
            client, generation = self._client, self._generation
            live = [mid for gen, mid in token if gen == generation] \
                if self.connected and client is not None else []
            for mid in live:
                client.ack(mid, 1)
            self.stats["acked"] += len(live)
            self.stats["stale_acks"] += len(token) - len(live)
            with self._cond:
                self._unacked -= len(live)
                self._cond.notify_all()

    def describe(self) -> dict[str, Any]:
        """URL (password masked), topics, session, state and counters."""
        with self._cond:
            buffered, unacked = len(self._inbox), self._unacked
        return {**super().describe(), "url": self.display_url, "topics": list(self.p.topic),
                "qos": self.p.qos, "protocol": self.p.protocol, "client_id": self.client_id,
                "clean_session": self.p.clean_session, "connected": self.connected,
                "reader_alive": self.alive, "buffered": buffered, "unacked": unacked,
                "buffered_bytes": self._inbox_bytes,
                "last_error": self._failing, "stats": dict(self.stats),
                "refused": self.refusals.snapshot(), "ingest_errors": self.errors.snapshot()}

    # -- messages → records ----------------------------------------------------------------------
    def _records(self, taken: list[tuple[bytes, bytes | int, int, int, int]]) -> list[Any]:
        now, out, acks = self.clock(), [], []
        limit, topic_limit = self.p.max_payload_bytes, self.p.max_topic_bytes
        fields, topic_field, decode = self.router.fields, self.p.topic_field, self.decoder.decode
        per_topic = self.router.named or topic_field
        for raw_topic, payload, qos, mid, gen in taken:
            if qos:
                acks.append((gen, mid))
            if type(payload) is int:  # read past as it arrived (see mqtt_client)
                self.refusals.add("too_large", f"a message of {payload} bytes exceeds the "
                                               f"packet limit ({self.max_packet}) on "
                                               f"{raw_topic[:60].decode('utf-8', 'replace')!r}")
                continue
            if len(payload) > limit:
                self.refusals.add("too_large", f"a payload of {len(payload)} bytes exceeds "
                                               f"max_payload_bytes ({limit}) on "
                                               f"{raw_topic[:60].decode('utf-8', 'replace')!r}")
                continue
            if len(raw_topic) > topic_limit:
                self.refusals.add("bad_topic", f"a topic of {len(raw_topic)} bytes exceeds "
                                               f"max_topic_bytes ({topic_limit}): "
                                               f"{raw_topic[:60].decode('utf-8', 'replace')!r}…")
                continue
            extra = None
            if per_topic:
                topic = raw_topic.decode("utf-8", "replace")
                extra = fields(topic)
                if topic_field:
                    extra[topic_field] = topic
            out += decode(payload, extra, now)
        self.stats["messages"] += len(taken)
        return Delivery(out, acks) if acks else out

    # -- the reader thread -----------------------------------------------------------------------
    def _run(self) -> None:
        """Connect, run until the connection ends, reconnect: failures back off (the retry
        helper, unlimited tries); a connection that worked starts a fresh backoff."""
        while not self._stop.is_set():
            try:
                call_with_retries(self._session, self.retry, self._stop,
                                  retryable=lambda exc: True, on_retry=self._on_failure)
            except Exception:
                return  # only a stop ends the retries of an unlimited policy
            if self._stop.wait(self.retry.base):
                return

    def _session(self) -> None:
        """One connection, to its end; raises unless the broker accepted it."""
        self._gone.clear()
        if self._closing.is_set():
            return
        self._accepted, self._why = False, None
        client = self._client or self._new_client()
        props = None
        if self.p.protocol == "5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = int(self.p.session_expiry)
            props.ReceiveMaximum = min(self.p.max_in_flight, 65535)
            props.MaximumPacketSize = self.max_packet
        try:
            client.connect(self.host, self.port, int(self.p.keepalive),
                           clean_start=self.p.clean_session if props else
                           paho.MQTT_CLEAN_START_FIRST_ONLY, properties=props)
        except (OSError, ValueError) as exc:
            raise _Failed("connection", f"cannot connect: {exc}") from None
        client.loop_start()
        try:
            self._gone.wait()
        finally:
            if self._stop.is_set():
                self._settle(client)
                client.disconnect()
            client.loop_stop()
            self._ended()
        if not self._accepted and not self._stop.is_set():
            raise _Failed(*(self._why or ("connection", "the connection ended before the "
                                                        "broker accepted it")))

    def _settle(self, client: FastClient) -> None:
        """Before leaving, one round trip (an UNSUBSCRIBE of nothing, answered in order) so
        the broker has read every acknowledgement sent: one still unread when a restarted
        client takes the session over would be lost, and its message delivered again."""
        if not self.connected:
            return
        self._settled.clear()
        self._settle_mid = client.unsubscribe(SETTLE_TOPIC)[1]
        self._settled.wait(min(self.p.keepalive, 5.0))

    def _new_client(self) -> FastClient:
        v5 = self.p.protocol == "5"
        client = FastClient(self.client_id, clean_session=None if v5 else self.p.clean_session,
                            protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
                            reconnect_on_failure=False, sink=self._sink,
                            max_packet=self.max_packet, refused=self._sink,
                            ended=self._gone.set)
        client.connect_timeout = self.p.connect_timeout
        if self.username:
            client.username_pw_set(self.username, self.password or None)
        if self.ssl is not None:
            client.tls_set_context(self.ssl)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = lambda c, u, mid, *a: mid == self._settle_mid and \
            self._settled.set()
        self._client = client
        return client

    def _sink(self, topic: bytes, payload: bytes | int, qos: int, mid: int) -> None:
        """One message (paho's thread): into the inbox, waiting while it is full. ``payload``
        is the size of a message too large to read (refused, still to be acknowledged)."""
        with self._cond:
            while len(self._inbox) >= self.p.max_in_flight \
                    or self._inbox_bytes >= self.p.max_buffer_bytes:
                if self._stop.is_set():
                    self.stats["lost_at_stop"] += qos == 0  # QoS 1 comes again
                    return
                self._cond.wait(0.1)
            self._inbox.append((topic, payload, qos, mid, self._generation))
            if type(payload) is bytes:
                self._inbox_bytes += len(payload)
            if qos:
                self._unacked += 1
            if len(self._inbox) == self.p.batch_size or self._unacked >= self.p.max_in_flight \
                    or self._inbox_bytes >= self.p.max_buffer_bytes:
                self._cond.notify_all()  # a batch is ready: no need to wait for its time

    # -- paho callbacks (paho's thread) ----------------------------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        if reason.is_failure:
            self._why = ("auth" if reason.value in (0x86, 0x87, 4, 5) else "refused",
                         f"the broker refused the connection: {reason}")
            return
        with self._ack_lock:
            self._generation += 1
            with self._cond:
                self._unacked = 0
            self.connected, self._accepted, self._failing = True, True, None
        self.stats["connects"] += 1
        self.stats["reconnects"] += self.stats["connects"] > 1
        qos = self.p.qos
        if self.p.protocol == "5":  # retained messages once per subscription, not each time
            opts = SubscribeOptions(qos=qos, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
            client.subscribe([(f, opts) for f in self.router.filters])
        else:
            client.subscribe([(f, qos) for f in self.router.filters])

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: list[Any],
                      properties: Any) -> None:
        refused = [f"{topic!r}: {reason}" for topic, reason in zip(self.router.filters, reasons,
                                                                    strict=False)
                   if reason.is_failure]
        if refused:
            self.errors.report("subscribe", "the broker refused the subscription to "
                               + ", ".join(refused), url=self.display_url)

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        with self._ack_lock:
            self.connected = False
        if not self._stop.is_set() and self._accepted:
            self._failing = f"connection lost: {reason}"
            self.errors.report("connection", self._failing, url=self.display_url,
                               next_delay=self.retry.base, level=logging.WARNING)
        self._gone.set()

    def _ended(self) -> None:
        with self._ack_lock:
            self.connected = False

    def _on_failure(self, exc: BaseException, tries: int, delay: float) -> None:
        kind, reason = (exc.kind, exc.reason) if isinstance(exc, _Failed) else \
            ("error", f"{type(exc).__name__}: {exc}")
        self._failing = reason
        self.errors.report(kind, reason, url=self.display_url, attempt=tries, next_delay=delay)


class _Failed(Exception):
    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind, self.reason = kind, reason
