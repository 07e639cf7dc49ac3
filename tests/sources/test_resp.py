"""The RESP2 reply parser of the redis-stream source: every reply type, short reads, hostile
sizes, and redis-py commands through it against a real redis-server."""

from __future__ import annotations

import socket
import threading

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st
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


# -- random replies, cut anywhere, against the values they encode --------------------------------
class Chunks:
    """A socket whose reads return ``data`` cut at the given offsets (each read at most the
    size asked), then "closed"."""

    def __init__(self, data: bytes, cuts: list[int]):
        bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
        self.parts = [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]

    def recv(self, size: int) -> bytes:
        if not self.parts:
            return b""
        part = self.parts.pop(0)
        if len(part) > size:
            part, rest = part[:size], part[size:]
            self.parts.insert(0, rest)
        return part


def parser_on(data: bytes, cuts: list[int], parser_class=RespParser) -> RespParser:
    parser = parser_class()
    parser.on_connect(type("Conn", (), {"_sock": Chunks(data, cuts), "encoder": None})())
    return parser


def expected(value, max_bulk: int):
    """What the parser returns for ``value``: bulk strings over ``max_bulk`` as TooLarge."""
    if isinstance(value, list):
        return [expected(v, max_bulk) for v in value]
    if isinstance(value, bytes) and len(value) > max_bulk:
        return ("TooLarge", len(value))
    return value


def seen(value):
    """``value`` with TooLarge markers comparable to :func:`expected`'s."""
    if isinstance(value, list):
        return [seen(v) for v in value]
    return ("TooLarge", value.size) if isinstance(value, TooLarge) else value


# Bytes that look like RESP (CR, LF, "$", "*", digits) make the values that can fool a parser.
tricky = st.binary(max_size=12) | st.lists(
    st.sampled_from([b"\r", b"\n", b"\r\n", b"$", b"*", b"2", b"1", b"-", b"{", b"a", b":"]),
    max_size=12).map(b"".join)
entry = st.lists(tricky, min_size=2, max_size=2).map(lambda pair: [b"%d-0" % len(pair[1]), pair])
odd_entry = st.tuples(tricky, st.none() | st.lists(tricky, max_size=4))
entries = st.lists(entry | odd_entry.map(list), max_size=12)
# Entries, then a sibling of an entry's shape: a run must end with the array it is in.
entries_then_entry = st.tuples(entries, entry).map(list)
reply = st.recursive(st.none() | tricky | st.integers(-2**63, 2**63 - 1) | entries
                     | entries_then_entry,
                     lambda inner: st.lists(inner, max_size=4), max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(st.lists(reply, min_size=1, max_size=4), st.lists(st.integers(0, 10**6), max_size=12),
       st.sampled_from([RespParser, RespParser.limited(3)]))
def test_random_replies_cut_anywhere_parse_to_what_was_sent(replies, cuts, parser_class):
    """Replies (stream entries with CR/LF and RESP-looking bytes inside, nil pairs, nesting,
    integers), sent back to back and read in pieces cut at random offsets, come out as the
    values sent, each bulk string over max_bulk as TooLarge of its size."""
    data = b"".join(encode(r) for r in replies)
    parser = parser_on(data, cuts, parser_class)
    got = [seen(parser.read_response()) for _ in replies]
    assert got == [expected(r, parser_class.max_bulk) for r in replies]
    assert parser._pos == len(parser._buf)  # nothing read past the last reply


@settings(max_examples=100, deadline=None)
@given(st.lists(entry, min_size=1, max_size=60), st.lists(st.integers(0, 10**6), max_size=6))
def test_an_xreadgroup_reply_cut_anywhere_parses_to_its_entries(found, cuts):
    """The source's reply shape ([[stream, entries]]) then an integer, in random pieces."""
    replies = [[[b"sensors", found]], 3]
    parser = parser_on(b"".join(encode(r) for r in replies), cuts)
    assert [parser.read_response(), parser.read_response()] == replies


# A value that, read as if it ended at its first CR LF, reads on as three more entries and
# ends where a real entry begins: the run of entries must be checked and thrown away.
CRAFTED = (b"x\r\n" + b"*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n" * 3)[:-2]


@pytest.mark.parametrize("crafted", [lambda i: True, lambda i: i % 2, lambda i: i == 199,
                                     lambda i: i % 50 == 7])
def test_values_crafted_to_read_as_more_entries_parse_to_themselves(crafted):
    """Such values, among plain ones, come out as sent, whichever entries carry them."""
    found = [[b"%d-0" % i, [b"data", CRAFTED if crafted(i) else b'{"a": %d}' % i]]
             for i in range(200)]
    replies = [[[b"sensors", found]], [[b"sensors", found[::-1]]]]
    parser = parser_on(b"".join(encode(r) for r in replies), [5000, 9000, 9001])
    assert [parser.read_response(), parser.read_response()] == replies
