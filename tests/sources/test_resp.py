"""The RESP2 reply parser of the redis-stream source: every reply type, short reads, hostile
sizes, and redis-py commands through it against a real redis-server."""

from __future__ import annotations

import socket
import threading

import pytest
import redis
from redis.maint_notifications import MaintNotificationsConfig

from streamdash.sources.resp import RespParser, TooLarge


def encode(value) -> bytes:
    """``value`` as a RESP2 reply (lists → arrays, bytes → bulk, int → integer, None → nil)."""
    if value is None:
        return b"$-1\r\n"
    if isinstance(value, list):
        return b"*%d\r\n" % len(value) + b"".join(encode(v) for v in value)
    if isinstance(value, int):
        return b":%d\r\n" % value
    return b"$%d\r\n%s\r\n" % (len(value), value)


class Wire:
    """A parser reading from one end of a socket pair; the test writes the other end."""

    def __init__(self, parser_class=RespParser, timeout: float = 5.0):
        self.server, client = socket.socketpair()
        client.settimeout(timeout)
        conn = type("Conn", (), {"_sock": client, "encoder": None})()
        self.parser = parser_class()
        self.parser.on_connect(conn)
        self.client = client

    def send(self, data: bytes, step: int = 0) -> None:
        """Write ``data`` (``step`` bytes at a time from a thread, to force short reads)."""
        if not step:
            self.server.sendall(data)
            return

        def trickle():
            for i in range(0, len(data), step):
                self.server.sendall(data[i:i + step])
        threading.Thread(target=trickle, daemon=True).start()

    def close(self) -> None:
        self.server.close()
        self.client.close()


@pytest.fixture
def wire():
    w = Wire()
    yield w
    w.close()


STREAM_REPLY = [[b"sensors", [[b"1-0", [b"data", b'{"a": 1}']],
                              [b"1-1", [b"data", b"\r\n$5\r\n*1\r\n", b"n", None]],
                              [b"2-0", None]]]]


def test_every_reply_type_and_nesting(wire):
    """Bulk (with CRLF and RESP-looking bytes inside), nil, integers, empty and nested
    arrays, simple strings, and an error returned in place as redis-py's parsers do."""
    wire.send(encode(STREAM_REPLY) + b"+OK\r\n:-42\r\n*0\r\n*-1\r\n-ERR wrong thing\r\n")
    p = wire.parser
    assert p.read_response() == STREAM_REPLY
    assert p.read_response() == b"OK"
    assert p.read_response() == -42
    assert p.read_response() == []
    assert p.read_response() is None
    error = p.read_response()
    assert isinstance(error, redis.ResponseError) and str(error) == "wrong thing"


def test_a_reply_cut_anywhere_parses_the_same(wire):
    """Sent one byte at a time, the reply resumes where each read stopped."""
    data = encode(STREAM_REPLY)
    wire.send(data, step=1)
    assert wire.parser.read_response() == STREAM_REPLY
    wire.send(data + data, step=7)
    assert wire.parser.read_response() == STREAM_REPLY == wire.parser.read_response()


def test_a_bulk_over_the_limit_is_skipped_not_held():
    """A value longer than max_bulk becomes TooLarge(size); its bytes are read and thrown
    away even when they arrive in many reads, and the reply goes on after it."""
    w = Wire(RespParser.limited(100))
    try:
        big = b"x" * 300_000
        w.send(encode([[b"1-0", [b"data", big]], [b"1-1", [b"data", b"small"]]]) + b":7\r\n",
               step=4096)
        reply = w.parser.read_response()
        assert isinstance(reply[0][1][1], TooLarge) and reply[0][1][1].size == 300_000
        assert reply[1] == [b"1-1", [b"data", b"small"]]
        assert w.parser.read_response() == 7
        assert len(w.parser._buf) < 10_000  # never the 300 KB value
    finally:
        w.close()


def test_connection_errors():
    """A closed socket, a timeout and a RESP3 type byte are redis-py's connection errors."""
    w = Wire(timeout=0.05)
    with pytest.raises(redis.TimeoutError):
        w.parser.read_response()
    assert not w.parser.can_read(0.01)
    w.send(b"%1\r\n")
    assert w.parser.can_read(0.5)
    with pytest.raises(redis.ConnectionError, match="Protocol error"):
        w.parser.read_response()
    w.server.close()
    w.parser._buf = b""
    with pytest.raises(redis.ConnectionError, match="closed"):
        w.parser.read_response()
    w.parser.on_disconnect()
    with pytest.raises(redis.ConnectionError):
        w.parser.read_response()
    w.client.close()


def test_redis_py_commands_through_the_parser(redis_url):
    """redis-py connects (HELLO/CLIENT SETINFO), runs commands and raises errors through it."""
    pool = redis.ConnectionPool.from_url(
        redis_url, parser_class=RespParser, protocol=2,
        maint_notifications_config=MaintNotificationsConfig(enabled=False))
    r = redis.Redis(connection_pool=pool)
    try:
        assert r.ping() is True
        r.set("k", b"v" * 100_000)
        assert r.get("k") == b"v" * 100_000
        assert r.xadd("s", {"f": "1"}) and r.xlen("s") == 1
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            r.lpush("k", 1)
        decoded = redis.Redis(connection_pool=redis.ConnectionPool.from_url(
            redis_url, parser_class=RespParser, protocol=2, decode_responses=True,
            maint_notifications_config=MaintNotificationsConfig(enabled=False)))
        assert decoded.xrange("s")[0][1] == {"f": "1"}
    finally:
        pool.disconnect()
