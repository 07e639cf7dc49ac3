"""JSON Lines decoding for batches with ``orjson``.

A batch is decoded by one list comprehension; if a line is broken the batch is decoded again
line by line so that only the broken lines become
:class:`Unparsed` records (quarantined with the ``json`` rule).
Joining a batch into one JSON array (``[line,line,…]``) was measured too: no faster here, and
inexact (``1,2`` next to ``[3`` and ``4]`` parses as three values), so it is not used.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson


class Unparsed:
    """A raw input line that is not valid JSON; kept whole so it can be quarantined."""

    __slots__ = ("text", "error")

    def __init__(self, text: str, error: str = ""):
        self.text = text
        self.error = error

    def __repr__(self) -> str:
        return f"Unparsed({self.text!r})"


_loads = orjson.loads
_DecodeError = orjson.JSONDecodeError


def decode_line(line: Any) -> Any:
    """One JSON value, or :class:`Unparsed` when the line is not valid JSON; anything but
    ``bytes``/``str`` (an already decoded record) is returned as it is."""
    if not isinstance(line, (bytes, str)):
        return line
    try:
        return _loads(line)
    except _DecodeError as exc:
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        return Unparsed(text, str(exc))


def decode_lines(lines: list[bytes]) -> list[Any]:
    """Decode a batch of JSON lines (without their newlines) in order."""
    try:
        return [_loads(line) for line in lines]
    except (_DecodeError, TypeError):  # a broken line, or one already decoded
        return [decode_line(line) for line in lines]


def read_batches(lines: Iterable[bytes], size: int = 1000) -> Iterator[list[bytes]]:
    """Group raw lines (newline stripped, blank lines skipped) into lists of ``size``."""
    batch: list[bytes] = []
    for line in lines:
        line = line.rstrip(b"\r\n")
        if not line.strip():
            continue
        batch.append(line)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
