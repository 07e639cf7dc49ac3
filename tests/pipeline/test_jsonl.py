"""JSON Lines decoding per batch."""

from __future__ import annotations

from streamdash.pipeline.jsonl import Unparsed, decode_line, decode_lines, read_batches


def test_decodes_a_batch_and_keeps_broken_lines():
    """Valid lines decode in order; broken ones become Unparsed with their text."""
    out = decode_lines([b'{"a": 1}\n', b"{broken\n", b"[1]", b"\xff\xfe"])
    assert out[0] == {"a": 1} and out[2] == [1]
    assert isinstance(out[1], Unparsed) and out[1].text == "{broken\n"
    assert isinstance(out[3], Unparsed)
    assert decode_lines([]) == []
    assert decode_line(b"1") == 1


def test_read_batches_groups_lines_and_skips_blanks():
    """read_batches yields lists of at most `size` lines without newlines or blank lines."""
    lines = [b"1\n", b"\n", b"2\r\n", b"3\n", b"  \n", b"4"]
    assert list(read_batches(lines, 2)) == [[b"1", b"2"], [b"3", b"4"]]
