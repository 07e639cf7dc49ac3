"""A TCP proxy in front of mosquitto that sees which messages a client acknowledged.

The crash tests need to know exactly which QoS 1 messages the killed process had acknowledged
(PUBACK) when it died: the broker keeps that to itself. The proxy forwards both directions
unchanged and reads the MQTT packets on the way (3.1.1 and 5): each PUBLISH the broker sends
is remembered by packet id, and each PUBACK the client sends names the message it
acknowledges. Every client connection gets its own :class:`Connection` record.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

PUBLISH, PUBACK, SUBACK = 3, 4, 9


def split_packets(buf: bytearray) -> list[tuple[int, int, bytes]]:
    """Complete packets at the start of ``buf`` as (type, flags, body), removed from it."""
    out = []
    while len(buf) >= 2:
        length = shift = 0
        for i in range(1, min(5, len(buf))):
            length |= (buf[i] & 127) << shift
            shift += 7
            if not buf[i] & 128:
                break
        else:
            return out  # the length is not all here yet
        end = i + 1 + length
        if len(buf) < end:
            return out
        out.append((buf[0] >> 4, buf[0] & 15, bytes(buf[i + 1:end])))
        del buf[:end]
    return out


class Connection:
    """What one client connection carried: the messages acknowledged, the subscriptions."""

    def __init__(self, payload_key: Callable[[bytes], object], v5: bool):
        self.key, self.v5 = payload_key, v5
        self.in_flight: dict[int, object] = {}
        self.acked: list[object] = []
        self.subscribed = threading.Event()
        self.closed = threading.Event()
        self.lock = threading.Lock()

    def from_broker(self, kind: int, flags: int, body: bytes) -> None:
        if kind == SUBACK:
            self.subscribed.set()
        if kind != PUBLISH or not (flags >> 1) & 3:
            return
        end = 2 + int.from_bytes(body[:2], "big")
        pid = int.from_bytes(body[end:end + 2], "big")
        end += 2
        if self.v5:
            size = shift = 0
            while True:
                byte = body[end]
                end += 1
                size |= (byte & 127) << shift
                shift += 7
                if not byte & 128:
                    break
            end += size
        with self.lock:
            self.in_flight[pid] = self.key(body[end:])

    def from_client(self, kind: int, flags: int, body: bytes) -> None:
        if kind == PUBACK:
            with self.lock:
                self.acked.append(self.in_flight.pop(int.from_bytes(body[:2], "big")))


class AckSpy:
    """Listens on a free loopback port and forwards to ``127.0.0.1:upstream``."""

    def __init__(self, upstream: int, payload_key: Callable[[bytes], object], v5: bool = True):
        self.upstream, self.key, self.v5 = upstream, payload_key, v5
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections: list[Connection] = []
        self._threads: list[threading.Thread] = []
        self._start(self._accept)

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # closed
            broker = socket.create_connection(("127.0.0.1", self.upstream))
            conn = Connection(self.key, self.v5)
            self.connections.append(conn)
            ends = threading.Semaphore(0)  # one release per direction that ended
            self._start(self._pump, client, broker, conn.from_client, conn, ends, True)
            self._start(self._pump, broker, client, conn.from_broker, conn, ends, False)

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, seen: Callable[[int, int, bytes], None],
              conn: Connection, ends: threading.Semaphore, after: bool) -> None:
        """Forward ``src`` → ``dst`` packet by packet. A PUBLISH from the broker is seen
        before it is forwarded (the client cannot acknowledge a message the proxy does not
        know); a PUBACK from the client only once the broker's socket took it (``after``),
        so a message counts as acknowledged only if the broker gets the PUBACK.

        When ``src`` ends, only ``dst``'s sending side is shut (a FIN after what was
        forwarded): the other direction may still be forwarding a killed client's last
        PUBACKs, and closing both sockets at once lost them (the broker then redelivered
        messages the spy had counted as acknowledged). The sockets close when both
        directions ended; ``conn.closed`` is set then."""
        buf = bytearray()
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                buf += data
                for kind, flags, body in split_packets(buf):
                    if not after:
                        seen(kind, flags, body)
                    dst.sendall(bytes([kind << 4 | flags]) + _length(len(body)) + body)
                    if after:
                        seen(kind, flags, body)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            ends.release()
        if after:
            # The client's direction closes the connection once the broker's ended too:
            # the broker ends it after reading our FIN, so nothing it was sent is lost.
            ends.acquire()
            ends.acquire()
            for s in (src, dst):
                s.close()
            conn.closed.set()

    def close(self) -> None:
        self.server.close()


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 127, n >> 7
        out.append(byte | (128 if n else 0))
        if not n:
            return bytes(out)
