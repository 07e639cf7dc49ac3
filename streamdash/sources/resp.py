"""A fast RESP2 reply parser for redis-py, used by the ``redis-stream`` source's connections.

redis-py's own pure-Python parser reads a reply element by element through a ``BytesIO``
(``readline`` and ``read`` per element, a recursive call per element); without ``hiredis``
(not a dependency) it was most of the time the source spent: ``XREADGROUP`` of 100,000
one-field entries in batches of 1,000 parsed at ~36,000 entries per CPU second here. This
parser reads the socket in large chunks and walks the bytes with ``bytes.find``, keeping its
place across short reads (a reply is parsed once, whatever its size); it is plugged in through
redis-py's ``parser_class`` connection option, so redis-py still owns connecting, TLS, ``AUTH``,
timeouts and command encoding. Stream entries of one field (``[id, [field, value]]``, most of
an ``XREADGROUP`` reply) are taken a run at a time by a regular expression and a length check
(:meth:`RespParser._entries`), with the same outcome as element by element.

Hostile sizes: a bulk string longer than ``max_bulk`` (an entry's field value, see
:meth:`RespParser.limited`) is skipped as it streams in, never held whole, and stands in the
reply as a :class:`TooLarge` marker that the source refuses and reports.

Only RESP2 is spoken (the source's pool asks for ``protocol=2``): simple strings, errors,
integers, bulk strings and arrays.
"""

from __future__ import annotations

import re
import socket
from itertools import chain, repeat
from operator import gt, ne
from typing import Any

from redis._parsers.base import BaseParser
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

#: Bytes asked of the socket per read (a reply of 1,000 entries of ~100 bytes is ~120 KB).
READ_SIZE = 256 * 1024
CLOSED = "Connection closed by server."

# A run of stream entries ``[id, [field, value]]`` (the bulk of an XREADGROUP reply), matched
# in C. A bulk string is taken as "its length, then bytes up to the next CR": right exactly
# when the bytes hold no CR, which the length check in :meth:`RespParser._entries` proves
# entry by entry (a CR inside a value stops the run there; the general path takes over). Each
# part can match one way only (a run of non-CR bytes, of digits, ends at a CR), so findall
# over a run's span finds that run's entries.
_BULK = rb"\$(\d+)\r\n([^\r]*)\r\n"
_ENTRY = re.compile(rb"\*2\r\n" + _BULK + rb"\*2\r\n" + _BULK + _BULK)
#: Entries taken in one go at most; after a string holding CR LF the parser starts again at
#: one and doubles (:meth:`RespParser._entries`), so a value crafted to read on as more
#: entries wastes the work of a few, not of this many (checked, then parsed again).
RUN_MOST = 128
_RUNS = {2**i: re.compile(
    rb"(?:\*2\r\n\$\d+\r\n[^\r]*\r\n\*2\r\n(?:\$\d+\r\n[^\r]*\r\n){2}){0,%d}" % 2**i)
    for i in range(RUN_MOST.bit_length())}
#: Attempts skipped at most after attempts that found no entry (the general path's turn).
SKIP_MOST = 64
#: The bytes of an entry besides its three lengths and three strings (``*2``, ``$``, CRLFs).
_ENTRY_FRAME = 23


class TooLarge:
    """Stands for a bulk string longer than the parser's ``max_bulk``; its bytes were skipped."""

    __slots__ = ("size",)

    def __init__(self, size: int):
        self.size = size

    def __repr__(self) -> str:
        return f"TooLarge({self.size})"


class _Short(Exception):
    """The buffer ends inside the element being parsed; ``need`` bytes more at least."""

    def __init__(self, need: int = 1):
        self.need = need


class RespParser(BaseParser):
    """redis-py ``parser_class`` for RESP2 replies (see the module docstring)."""

    #: Longest bulk string kept; longer ones become :class:`TooLarge` (bytes skipped).
    max_bulk = 512 * 1024 * 1024

    def __init__(self, socket_read_size: int = READ_SIZE):
        self.read_size = max(int(socket_read_size), READ_SIZE)
        self._sock: socket.socket | None = None
        self._buf = b""
        self._pos = 0
        self._decode: Any = None
        # Runs of entries: how many at most next time, attempts to skip, and how many to
        # skip after the next attempt that finds none (see _entries).
        self._run, self._idle, self._backoff = RUN_MOST, 0, 1

    @classmethod
    def limited(cls, max_bulk: int) -> type[RespParser]:
        """A parser class keeping bulk strings of at most ``max_bulk`` bytes."""
        return type("LimitedRespParser", (cls,), {"max_bulk": max_bulk})

    # -- what redis-py's Connection calls ----------------------------------------------------
    def on_connect(self, connection: Any) -> None:
        self._sock = connection._sock
        self._buf, self._pos = b"", 0
        encoder = connection.encoder
        self._decode = encoder.decode if encoder is not None and encoder.decode_responses \
            else None

    def on_disconnect(self) -> None:
        self._sock = None
        self._buf, self._pos = b"", 0

    def can_read(self, timeout: float = 0) -> bool:
        """True when a reply (or part of one) is buffered or arrives within ``timeout``."""
        return self._pos < len(self._buf) or self._fill(timeout, quiet=True)

    def read_response(self, disable_decoding: bool = False, timeout: Any = None,
                      **_: Any) -> Any:
        """The next reply: bytes, int, ``None``, a list, or an error (raised for connection
        errors, returned for the others as redis-py's parsers do)."""
        decode = None if disable_decoding else self._decode
        # redis-py passes its own "unset" sentinel, or seconds for a read with a deadline.
        wait = timeout if isinstance(timeout, (int, float)) else None
        stack: list[list[Any]] = []  # open arrays: [items, still to come]
        while True:
            try:
                value = self._parse(decode, stack)
            except _Short as short:
                self._fill(wait, need=short.need)
                continue
            if isinstance(value, RedisConnectionError):
                raise value
            return value

    def _parse(self, decode: Any, stack: list[list[Any]]) -> Any:
        """Parse from ``self._pos`` to the end of a reply, in one loop (a function call per
        element cost a third of the time). Complete elements go into ``stack``'s open arrays
        as they are read, so after a short read (:class:`_Short`, ``self._pos`` at the start
        of the element cut short) parsing resumes where it stopped."""
        buf, pos = self._buf, self._pos
        size, find, max_bulk = len(buf), buf.find, self.max_bulk
        while True:
            if stack and decode is None and stack[-1][1] > 1 \
                    and buf.startswith(b"*2\r\n$", pos):
                # Inside an array, at what may be stream entries: take those buffered whole
                # a run at a time (up to RUN_MOST in a few C calls), all but the array's
                # last, which the general path places (closing the arrays it completes).
                top = stack[-1]
                if self._idle:
                    self._idle -= 1
                else:
                    items, pos = self._entries(buf, pos, top[1] - 1)
                    if items:
                        top[0] += items
                        top[1] -= len(items)
                        continue
            end = find(b"\r\n", pos)
            if end < 0:
                self._pos = pos
                raise _Short()
            kind = buf[pos]
            if kind == 36:  # "$": a bulk string
                n = int(buf[pos + 1:end])
                if n < 0:
                    value, pos = None, end + 2
                elif n > max_bulk:
                    value, pos = TooLarge(n), self._skip(end + 2, n + 2)
                    buf, size = self._buf, len(self._buf)
                    find = buf.find
                else:
                    stop = end + 2 + n
                    if stop + 2 > size:
                        self._pos = pos
                        raise _Short(stop + 2 - size)
                    value, pos = buf[end + 2:stop], stop + 2
                    if decode is not None:
                        value = decode(value)
            elif kind == 42:  # "*": an array, its items follow
                n = int(buf[pos + 1:end])
                pos = end + 2
                if n <= 0:
                    value = [] if n == 0 else None
                else:
                    # Its leading bulk strings in a tight loop (a stream entry's id, then its
                    # fields and values): most of a reply, without the general placing below.
                    items: list[Any] = []
                    while n and pos < size and buf[pos] == 36:
                        end = find(b"\r\n", pos)
                        if end < 0:
                            break
                        m = int(buf[pos + 1:end])
                        stop = end + 2 + m
                        if m < 0 or m > max_bulk or stop + 2 > size:
                            break  # nil, too large or cut short: the general path
                        value = buf[end + 2:stop]
                        items.append(decode(value) if decode is not None else value)
                        pos, n = stop + 2, n - 1
                    if n:
                        stack.append([items, n])
                        continue
                    value = items
            elif kind == 58:  # ":"
                value, pos = int(buf[pos + 1:end]), end + 2
            elif kind == 43:  # "+"
                value, pos = buf[pos + 1:end], end + 2
                if decode is not None:
                    value = decode(value)
            elif kind == 45:  # "-"
                value = self.parse_error(buf[pos + 1:end].decode("utf-8", "replace"))
                pos = end + 2
            else:
                raise RedisConnectionError(f"Protocol error: reply type byte {bytes([kind])!r}")
            while stack:  # place the value; close the arrays it completes
                top = stack[-1]
                top[0].append(value)
                top[1] -= 1
                if top[1]:
                    break
                value = stack.pop()[0]
            else:
                self._pos = pos
                return value

    def _entries(self, buf: bytes, pos: int, most: int) -> tuple[list[Any], int]:
        """Up to ``most`` stream entries ``[id, [field, value]]`` buffered whole from ``pos``
        on, parsed as the general path would, and the position after them; none (and
        ``pos``) when the bytes there are not such an entry or have not all arrived.

        An attempt costs about a few entries' parsing whatever it finds, and a string holding
        CR LF makes the run read on out of step, to be checked and thrown away: so the run
        is at most ``self._run`` entries (back to one after such a string, doubling while
        runs come out whole), and after attempts that find nothing the next ones are
        skipped, more of them each time (``self._idle``), leaving those bytes to the general
        path: crafted values cost about what the general path costs, not a run each."""
        end = _RUNS[self._run].match(buf, pos).end()
        if end == pos:
            self._idle, self._backoff = self._backoff, min(2 * self._backoff, SKIP_MOST)
            return [], pos
        rows = _ENTRY.findall(buf, pos, end)
        if len(rows) > most:
            rows, end = rows[:most], -1
        id_sizes, ids, field_sizes, fields, value_sizes, values = zip(*rows, strict=True)
        sizes = list(map(int, id_sizes + field_sizes + value_sizes))
        lengths = list(map(len, ids + fields + values))
        if sizes != lengths or max(sizes) > self.max_bulk:
            # A string holding CR LF (cut short there) or too large: the entries before it.
            n = len(rows)
            wrong = list(map(ne, sizes, lengths))
            large = list(map(gt, sizes, repeat(self.max_bulk)))
            good = list(map(any, zip(wrong[:n], wrong[n:2 * n], wrong[2 * n:], large[:n],
                                     large[n:2 * n], large[2 * n:], strict=True))).index(True)
            self._run = 1
            if not good:
                self._idle, self._backoff = self._backoff, min(2 * self._backoff, SKIP_MOST)
                return [], pos
            rows, ids, fields, values = rows[:good], ids[:good], fields[:good], values[:good]
            end = -1
        else:
            self._run, self._backoff = min(2 * self._run, RUN_MOST), 1
        if end < 0:
            end = pos + _ENTRY_FRAME * len(rows) + sum(map(len, chain(*rows)))
        return list(map(list, zip(ids, map(list, zip(fields, values, strict=True)),
                                  strict=True))), end

    def _skip(self, start: int, count: int) -> int:
        """Drop ``count`` bytes from ``start`` on, reading (and forgetting) what is not
        buffered yet; returns the position after them in the (new) buffer."""
        have = len(self._buf) - start
        if have >= count:
            return start + count
        count -= have
        self._buf, self._pos = b"", 0
        while True:
            data = self._recv(None)
            if len(data) >= count:
                self._buf = data[count:]
                return 0
            count -= len(data)

    # -- reading -----------------------------------------------------------------------------
    def _fill(self, timeout: float | None, quiet: bool = False, need: int = 1) -> bool:
        """Read more into the buffer (keeping what is not parsed yet); False only when
        ``quiet`` and nothing came in time."""
        try:
            data = self._recv(timeout, max(self.read_size, need))
        except RedisTimeoutError:
            if quiet:
                return False
            raise
        self._buf = self._buf[self._pos:] + data
        self._pos = 0
        return True

    def _recv(self, timeout: float | None, size: int = 0) -> bytes:
        sock = self._sock
        if sock is None:
            raise RedisConnectionError(CLOSED)
        previous = sock.gettimeout() if timeout is not None else None
        if timeout is not None:
            sock.settimeout(timeout)
        try:
            data = sock.recv(size or self.read_size)
        except (TimeoutError, BlockingIOError):
            raise RedisTimeoutError("Timeout reading from socket") from None
        except OSError as exc:
            raise RedisConnectionError(f"Error while reading from socket: {exc}") from None
        finally:
            if timeout is not None:
                try:
                    sock.settimeout(previous)
                except OSError:
                    pass  # closed meanwhile: the read's own outcome is what to report
        if not data:
            raise RedisConnectionError(CLOSED)
        return data

