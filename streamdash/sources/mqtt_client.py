"""The paho-mqtt client the ``mqtt`` source runs, with a faster path for incoming messages and
a bound on what it reads.

paho does everything but the hot path: connecting, TLS, authentication, subscribing,
keep-alive, acknowledgements. Measured here (mosquitto on loopback, QoS 0, 66-byte JSON
payloads), stock paho delivered ~24,000 messages per CPU second: three ``recv`` calls and an
``MQTTMessage`` with its callback lookup per message, and MQTT 5 property parsing that alone
cost half of it. Three overrides bring that to ~60,000 and bound the input:

* the socket is wrapped in :class:`BufferedSocket`, which reads 256 KB at a time and serves
  paho's small reads from memory (``pending()`` tells paho's loop that a packet is waiting,
  as it does for TLS);
* ``_packet_read`` looks at each packet's header before paho reads it: a PUBLISH larger than
  ``max_packet`` is read past and thrown away as it arrives (never held whole), and only its
  topic and packet id are kept, handed to ``refused(topic, size, qos, mid)`` so the source can
  count it and acknowledge it (else the broker would send it again for ever);
* ``_handle_publish`` decodes a PUBLISH itself (topic, packet id, properties skipped, payload)
  and hands it to ``sink(topic, payload, qos, mid)``, instead of building an ``MQTTMessage``.

These are private paho methods: ``tests/sources/test_mqtt_client.py`` pins their behaviour on
the installed paho (``setup.py`` allows paho-mqtt 2.x).
"""

from __future__ import annotations

import logging
import select
import ssl
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

log = logging.getLogger("streamdash.sources.mqtt")

#: Bytes read from the socket at a time.
READ_SIZE = 256 * 1024
PUBLISH = 0x30

Sink = Callable[[bytes, bytes, int, int], None]
Refused = Callable[[bytes, int, int, int], None]


class BufferedSocket:
    """A socket whose small reads are served from a large buffer (see the module docstring);
    everything else is delegated to the wrapped socket."""

    def __init__(self, sock: Any, at_boundary: Callable[[], bool] = lambda: True):
        self._sock = sock
        self._buf = b""
        self._pos = 0
        self.at_boundary = at_boundary  # is paho about to read a new packet?
        self.eof = False

    def recv(self, size: int) -> bytes:
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            buf, pos = self._sock.recv(READ_SIZE), 0  # BlockingIOError when nothing is there
            if not buf:
                return buf  # closed: paho sees the empty read
        out = buf[pos:pos + size]
        self._buf, self._pos = buf, pos + len(out)
        return out

    def pending(self) -> int:
        """Bytes paho can read now without a select(): buffered (and in TLS); none while only
        part of a packet's header is here (paho's loop would spin on it)."""
        inner = getattr(self._sock, "pending", None)
        extra = inner() if inner is not None else 0
        if self._pos < len(self._buf) and (not self.at_boundary() or self.header() is not None):
            return len(self._buf) - self._pos + extra
        return extra

    def header(self, fill: bool = False) -> tuple[int, int, int] | None:
        """``(type byte, remaining length, header bytes)`` of the packet at the read position,
        or None while not all of its header is buffered (``fill``: read what the socket has)."""
        while True:
            buf, pos = self._buf, self._pos
            length = shift = 0
            for i in range(pos + 1, min(pos + 5, len(buf))):
                length |= (buf[i] & 127) << shift
                shift += 7
                if not buf[i] & 128:
                    return buf[pos], length, i + 1 - pos
            if not fill or not self._more():
                return None

    def _more(self, timeout: float = 0.0) -> bool:
        """Append what the socket has (waiting up to ``timeout``); False when nothing came."""
        if timeout and not (getattr(self._sock, "pending", lambda: 0)()
                            or select.select([self._sock], [], [], timeout)[0]):
            return False
        try:
            data = self._sock.recv(READ_SIZE)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False
        except OSError:
            data = b""  # reset: paho's own read meets the error and ends the connection
        if not data:
            self.eof = True
            return False
        self._buf = self._buf[self._pos:] + data
        self._pos = 0
        return True

    def whole(self, header: int, size: int) -> bytes | None:
        """The body of the packet at the read position (``header`` bytes of header, ``size``
        of body) when all of it is buffered, consumed; None otherwise (nothing consumed)."""
        start = self._pos + header
        end = start + size
        if end > len(self._buf):
            return None
        self._pos = end
        return self._buf[start:end]

    def take(self, size: int, timeout: float, keep: bool = True) -> bytes:
        """The next ``size`` bytes (thrown away as they come unless ``keep``), waiting at most
        ``timeout`` for each read; ``TimeoutError`` or ``ConnectionError`` otherwise."""
        kept: list[bytes] = []
        while size:
            if self._pos >= len(self._buf) and not self._more(timeout):
                raise ConnectionError("closed") if self.eof else TimeoutError("no data")
            chunk = self._buf[self._pos:self._pos + size]
            self._pos += len(chunk)
            size -= len(chunk)
            if keep:
                kept.append(chunk)
        return b"".join(kept)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class FastClient(paho.Client):
    """A paho ``Client`` (callback API 2, manual acknowledgements) with the fast receive path;
    ``sink`` receives every message, ``refused`` every PUBLISH over ``max_packet`` bytes."""

    def __init__(self, *args: Any, sink: Sink, max_packet: int, refused: Refused,
                 ended: Callable[[], None], **kwargs: Any):
        super().__init__(paho.CallbackAPIVersion.VERSION2, *args, manual_ack=True, **kwargs)
        self.sink, self.refused, self.ended = sink, refused, ended
        self.max_packet = max_packet

    def _thread_main(self) -> None:
        """paho's network thread; ``ended()`` when it ends, whatever the reason (an error
        that escapes paho's loop ends it without a disconnect callback)."""
        try:
            super()._thread_main()
        except Exception:
            log.exception("the MQTT network thread failed")
        finally:
            self.ended()

    def _create_socket(self) -> Any:
        return BufferedSocket(super()._create_socket(),
                              lambda: self._in_packet["command"] == 0)

    def _packet_read(self) -> MQTTErrorCode:
        """Every message already buffered whole, in one call (paho reads one packet per call,
        with three reads and its loop's bookkeeping around each); anything else — another
        packet type, a packet not all here yet — is paho's."""
        sock = self._sock
        if self._in_packet["command"] != 0 or not isinstance(sock, BufferedSocket):
            return super()._packet_read()
        handled = 0
        while True:
            head = sock.header(fill=not handled)
            if head is None:
                if handled or not sock.eof:
                    break  # the rest of the header comes later (or paho sees the close)
                return super()._packet_read()
            command, size, header = head
            if size > self.max_packet:
                if handled:
                    break
                return self._read_past(sock, command, size, header)
            body = sock.whole(header, size) if command & 0xF0 == PUBLISH \
                and (command >> 1) & 3 <= 1 else None
            if body is None:
                if handled:
                    break
                return super()._packet_read()
            rc = self._publish(command, body)
            if rc:
                return rc
            handled += 1
        if not handled:
            return MQTTErrorCode.MQTT_ERR_AGAIN
        self._last_bytes_received = paho.time_func()  # the keep-alive saw traffic
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _read_past(self, sock: BufferedSocket, command: int, size: int,
                   header: int) -> MQTTErrorCode:
        """Throw an oversized packet away as it arrives, keeping its topic and packet id."""
        if command & 0xF0 != PUBLISH:
            return MQTTErrorCode.MQTT_ERR_PROTOCOL  # only a message can be that big
        qos, wait = (command >> 1) & 3, max(float(self._keepalive), 1.0)
        try:
            sock.take(header, wait, keep=False)
            topic_len = int.from_bytes(sock.take(2, wait), "big")
            topic = sock.take(topic_len, wait)
            mid = int.from_bytes(sock.take(2, wait), "big") if qos else 0
            sock.take(size - 2 - topic_len - (2 if qos else 0), wait, keep=False)
        except (OSError, ValueError):
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        self._last_bytes_received = paho.time_func()  # the keep-alive saw traffic
        self.refused(topic, size, qos, mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_publish(self) -> MQTTErrorCode:
        """A PUBLISH paho read (one that arrived in pieces)."""
        if (self._in_packet["command"] >> 1) & 3 > 1:
            return super()._handle_publish()  # never subscribed at QoS 2: paho's business
        return self._publish(self._in_packet["command"], bytes(self._in_packet["packet"]))

    def _publish(self, command: int, packet: bytes) -> MQTTErrorCode:
        """Decode one PUBLISH body and hand it to the sink."""
        qos = (command >> 1) & 3
        try:
            end = 2 + ((packet[0] << 8) | packet[1])
            topic = packet[2:end]
            mid = 0
            if qos:
                mid = (packet[end] << 8) | packet[end + 1]
                end += 2
            if self._protocol == paho.MQTTv5:  # properties: a variable-length size, skipped
                size = shift = 0
                while True:
                    byte = packet[end]
                    end += 1
                    size |= (byte & 127) << shift
                    shift += 7
                    if not byte & 128 or shift > 21:
                        break
                end += size
        except IndexError:  # cut short: a broken packet ends the connection, as paho would
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        if end > len(packet):
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        self.sink(topic, packet[end:], qos, mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS
