"""The paho client's fast receive path (private paho methods, pinned here on the installed
paho): buffered reads, the PUBLISH decoder for MQTT 3.1.1 and 5, the packet size bound."""

from __future__ import annotations

import socket
import threading
import time

import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from streamdash.sources.mqtt_client import BufferedSocket, FastClient
from tests.helpers import wait_for, within


def test_buffered_socket_serves_small_reads_from_one_recv():
    """paho's 1-byte reads come from one large read; pending() counts a whole header only;
    an empty read (closed) passes through."""
    a, b = socket.socketpair()
    try:
        sock = BufferedSocket(a)
        b.sendall(b"\x30\x05abcde\x30")  # a packet, then the first byte of the next
        assert sock.recv(1) == b"\x30" and sock.pending() > 0
        assert sock.recv(1) == b"\x05" and sock.recv(5) == b"abcde"
        assert sock.pending() == 0 and sock.header() is None  # half a header: select() first
        b.sendall(b"\x82\x01")  # remaining length 130, in two bytes
        assert sock.header(fill=True) == (0x30, 130, 3) and sock.pending() == 3
        b.close()
        assert sock.recv(3) == b"\x30\x82\x01" and sock.recv(1) == b""
        assert sock.fileno() == a.fileno()  # everything else is the socket's
    finally:
        a.close()


def test_take_reads_past_what_it_does_not_keep_and_times_out():
    """take() keeps or throws away bytes as they arrive and waits at most its timeout."""
    a, b = socket.socketpair()
    try:
        a.setblocking(False)
        sock = BufferedSocket(a)
        threading.Thread(target=lambda: [b.sendall(b"x" * 1000) or time.sleep(0.01)
                                         for _ in range(50)], daemon=True).start()
        sock.take(49_990, 5.0, keep=False)
        assert sock.take(10, 5.0) == b"x" * 10
        with pytest.raises(TimeoutError):
            sock.take(1, 0.05)
    finally:
        a.close()
        b.close()


class Received:
    def __init__(self):
        self.messages: list = []
        self.refused: list = []
        self.ended = threading.Event()


def listen(port: int, protocol: int, qos: int, max_packet: int = 1 << 20) -> tuple:
    got = Received()
    client = FastClient("fast-test", protocol=protocol, reconnect_on_failure=False,
                        sink=lambda *m: got.messages.append(m), max_packet=max_packet,
                        refused=lambda *m: got.refused.append(m), ended=got.ended.set)
    subscribed = threading.Event()
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_connect = lambda c, *a: c.subscribe("t/#", qos)
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert subscribed.wait(within())
    return client, got


@pytest.mark.parametrize("protocol", [paho.MQTTv311, paho.MQTTv5])
def test_publish_decoding_for_both_protocols_and_qos(mosquitto_server, protocol):
    """Topic, payload (binary, empty, with MQTT 5 properties before it), QoS and packet id
    reach the sink exactly; QoS 1 waits for a manual acknowledgement."""
    client, got = listen(mosquitto_server.port, protocol, 1)
    pub = paho.Client(paho.CallbackAPIVersion.VERSION2, "pub", protocol=paho.MQTTv5)
    pub.connect("127.0.0.1", mosquitto_server.port)
    pub.loop_start()
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = [("k", "v" * 300)]
    props.ContentType = "application/json"
    for topic, payload, qos, p in [("t/a", b"\x00\xff{}", 0, None), ("t/b", b"", 1, None),
                                   ("t/é", b'{"x": 1}', 1, props)]:
        pub.publish(topic, payload, qos, properties=p).wait_for_publish(5)
    assert wait_for(lambda: len(got.messages) == 3, within())
    assert [(t, p, q) for t, p, q, _ in got.messages] == [
        (b"t/a", b"\x00\xff{}", 0), (b"t/b", b"", 1), ("t/é".encode(), b'{"x": 1}', 1)]
    assert all(mid > 0 for _, _, qos, mid in got.messages if qos)
    for _, _, qos, mid in got.messages:
        if qos:
            client.ack(mid, 1)
    client.disconnect()
    client.loop_stop()
    pub.disconnect()
    pub.loop_stop()
    assert got.ended.is_set()


def test_an_oversized_packet_is_read_past_and_reported(mosquitto_server):
    """A PUBLISH over max_packet never reaches paho's buffer: its topic, size and packet id go
    to refused(), its bytes are thrown away, and the next message arrives."""
    client, got = listen(mosquitto_server.port, paho.MQTTv311, 1, max_packet=4096)
    pub = paho.Client(paho.CallbackAPIVersion.VERSION2, "pub", protocol=paho.MQTTv311)
    pub.connect("127.0.0.1", mosquitto_server.port)
    pub.loop_start()
    pub.publish("t/big", b"y" * 2_000_000, 1).wait_for_publish(10)
    pub.publish("t/small", b"ok", 1).wait_for_publish(10)
    assert wait_for(lambda: got.messages, within())
    assert [(t, size, q) for t, size, q, _ in got.refused] == [(b"t/big", 2_000_009, 1)]
    assert [(t, p) for t, p, _, _ in got.messages] == [(b"t/small", b"ok")]
    assert client.is_connected()
    client.disconnect()
    client.loop_stop()
    pub.disconnect()
    pub.loop_stop()
