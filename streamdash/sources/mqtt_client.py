"""The paho-mqtt client the ``mqtt`` source runs, with a faster path for incoming messages.

paho does everything but the hot path: connecting, TLS, authentication, subscribing,
keep-alive, acknowledgements. Measured here (mosquitto on loopback, QoS 0, 66-byte JSON
payloads), stock paho delivered ~24,000 messages per CPU second: three ``recv`` calls and an
``MQTTMessage`` with its callback lookup per message, and MQTT 5 property parsing that alone
cost half of it. Two overrides bring that to ~60,000:

* the socket is wrapped in :class:`BufferedSocket`, which reads 256 KB at a time and serves
  paho's small reads from memory (``pending()`` tells paho's loop that bytes are waiting, as it
  does for TLS), and which refuses a packet larger than ``max_packet`` before any of it is read
  (the connection is closed: a hostile 256 MB message is never held);
* ``_handle_publish`` decodes a PUBLISH itself (topic, packet id, properties skipped, payload)
  and hands it to ``sink(topic, payload, qos, mid)``, instead of building an ``MQTTMessage``.

Both are private paho methods: ``tests/sources/test_mqtt_client.py`` pins their behaviour on
the installed paho (``setup.py`` allows paho-mqtt 2.x).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

#: Bytes read from the socket at a time.
READ_SIZE = 256 * 1024

Sink = Callable[[bytes, bytes, int, int], None]


class PacketTooLarge(ConnectionError):
    """The broker announced a packet larger than the client accepts."""

    def __init__(self, size: int, limit: int):
        super().__init__(f"a packet of {size} bytes exceeds the limit of {limit}")
        self.size, self.limit = size, limit


class BufferedSocket:
    """A socket whose small reads are served from a large buffer (see the module docstring).

    paho asks for one byte (the packet type), one byte at a time for the length, then the rest
    of the packet: the last request is the whole remaining length, which is where a packet over
    ``max_packet`` is refused. Everything else is delegated to the wrapped socket.
    """

    def __init__(self, sock: socket.socket, max_packet: int,
                 on_refused: Callable[[PacketTooLarge], None] | None = None):
        self._sock = sock
        self._buf = b""
        self._pos = 0
        self.max_packet = max_packet
        self.on_refused = on_refused

    def recv(self, size: int) -> bytes:
        if size > self.max_packet:
            error = PacketTooLarge(size, self.max_packet)
            if self.on_refused is not None:
                self.on_refused(error)
            raise error
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            buf, pos = self._sock.recv(READ_SIZE), 0  # BlockingIOError when nothing is there
            if not buf:
                return buf  # closed: paho sees the empty read
        out = buf[pos:pos + size]
        self._buf, self._pos = buf, pos + len(out)
        return out

    def pending(self) -> int:
        """Bytes buffered here (and in TLS), so paho's loop reads them without a select()."""
        inner = getattr(self._sock, "pending", None)
        return len(self._buf) - self._pos + (inner() if inner is not None else 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class FastClient(paho.Client):
    """A paho ``Client`` (callback API 2, manual acknowledgements) with the fast receive path;
    ``sink`` receives every message, ``max_packet`` bounds what is read."""

    def __init__(self, *args: Any, sink: Sink, max_packet: int,
                 on_refused: Callable[[PacketTooLarge], None] | None = None, **kwargs: Any):
        super().__init__(paho.CallbackAPIVersion.VERSION2, *args, manual_ack=True, **kwargs)
        self.sink = sink
        self.max_packet = max_packet
        self.on_refused = on_refused

    def _create_socket(self) -> Any:
        return BufferedSocket(super()._create_socket(), self.max_packet, self.on_refused)

    def _handle_publish(self) -> MQTTErrorCode:
        packet = self._in_packet["packet"]
        qos = (self._in_packet["command"] >> 1) & 3
        if qos > 1 or len(packet) < 2:
            return super()._handle_publish()  # never subscribed at QoS 2; paho judges the rest
        try:
            end = 2 + ((packet[0] << 8) | packet[1])
            topic = bytes(packet[2:end])
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
        self.sink(topic, bytes(packet[end:]), qos, mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS
