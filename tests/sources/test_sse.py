"""The SSE parser and the sse source against a real local event stream."""

from __future__ import annotations

import json
import time

import pytest

from streamdash.config import Settings
from streamdash.errors import ConfigError, SourceError
from streamdash.sources import build_source
from streamdash.sources.fields import parse_fields
from streamdash.sources.retry import RetryPolicy
from streamdash.sources.sse import SseEvent, SseParser, SseSource
from tests.helpers import wait_for as wait_until
from tests.helpers import within
from tests.httpserver import Reply

SSE_HEADERS = {"Content-Type": "text/event-stream"}


def event(i: int, **extra) -> bytes:
    """One Wikimedia-like recentchange event with id ``i``."""
    data = {"id": i, "title": f"Page {i}", "wiki": "enwiki", "bot": False, **extra}
    return f"event: message\nid: {i}\ndata: {json.dumps(data)}\n\n".encode()


def stream(*chunks: bytes, hold: bool = False, pause: float = 0.0) -> Reply:
    return Reply(200, headers=SSE_HEADERS, chunks=[(c, pause) for c in chunks], hold=hold)


def make(url: str, events: list | None = None, **kw) -> SseSource:
    kw.setdefault("retry", RetryPolicy(max_tries=0, max_time=0, base=0.01, cap=0.05))
    return SseSource("wiki", url=url, on_error=events.append if events is not None else None,
                     **kw)


def drain(src: SseSource, n: int, timeout: float = 10.0) -> list:
    """Fetch until ``n`` records arrived (the reader thread fills the buffer)."""
    out: list = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        try:
            out += src.fetch()
        except SourceError:
            pass
        time.sleep(0.01)
    return out




# -- parser ------------------------------------------------------------------------------------

def test_parser_handles_split_lines_crlf_comments_and_multiline_data():
    """Events split anywhere (even inside CRLF) parse the same; comments are ignored."""
    text = ("\ufeff: keep-alive\r\nevent: edit\r\nid: 7\r\ndata: line one\r\ndata: line two\r\n\r\n"
            "data:no-space\n\nretry: 2500\nretry: soon\n\n")
    whole = SseParser().feed(text)
    p = SseParser()
    pieces = []
    for i in range(0, len(text), 3):
        pieces += p.feed(text[i:i + 3])
    assert whole == pieces == [SseEvent("edit", "line one\nline two", "7"),
                               SseEvent("message", "no-space", "7")]
    assert p.retry == 2500 and p.last_id == "7"


def test_parser_id_rules_and_empty_events():
    """An id with NUL is ignored, an empty id resets, events without data are not dispatched."""
    p = SseParser()
    assert p.feed("id: 1\n\n") == [] and p.last_id == "1"
    assert p.feed("id: a\0b\ndata: x\n\n") == [SseEvent("message", "x", "1")]
    assert p.feed("id\ndata: y\n\n") == [SseEvent("message", "y", "")]
    assert p.feed("data\n\n") == [SseEvent("message", "", "")]
    p.feed("data: half")
    p.reset_stream()
    assert p.feed("\n\n") == []


# -- source ------------------------------------------------------------------------------------

def test_events_become_records_with_field_map(server):
    """JSON event data becomes records (mapped by fields); non-matching event types are skipped."""
    server.route("/stream", stream(event(1), b"event: canary\ndata: {}\n\n", event(2), hold=True))
    src = make(server.url("/stream"), fields=parse_fields("f", {"id": "id:int", "page": "title"}),
               event_types=("message",))
    try:
        assert drain(src, 2) == [{"id": 1, "page": "Page 1"}, {"id": 2, "page": "Page 2"}]
        assert wait_until(lambda: src.stats["skipped_types"] == 1)
        assert src.describe()["connected"] is True
    finally:
        src.close()
    assert not src.alive


def test_reconnects_after_drop_with_last_event_id_and_server_retry(server):
    """After a drop the source reconnects after retry:, sending Last-Event-ID."""
    server.route("/stream", stream(b"retry: 30\n\n", event(1), event(2)),
                 then=stream(event(3), hold=True))
    events: list = []
    src = make(server.url("/stream"), events)
    try:
        assert [r["id"] for r in drain(src, 3)] == [1, 2, 3]
        hits = server.hits("/stream")
        assert "Last-Event-ID" not in hits[0].headers
        assert hits[1].headers["Last-Event-ID"] == "2"
        assert hits[0].headers["Accept"] == "text/event-stream"
        assert src.parser.retry == 30 and src.stats["reconnects"] >= 1
        assert events == []  # a clean end of stream is not an error
    finally:
        src.close()


def test_connection_failures_are_reported_and_recovered(server, closed_port):
    """A refused connection is retried with backoff and reported; fetch fails meanwhile."""
    events: list = []
    src = make(f"http://127.0.0.1:{closed_port}/stream", events)
    src.start()
    try:
        assert wait_until(lambda: len(events) >= 2)
        assert [e["attempt"] for e in events[:2]] == [1, 2]
        assert events[0]["kind"] == "connection" and events[0]["next_delay"] is not None
        with pytest.raises(SourceError) as err:
            src.fetch()
        assert "connection failed" in str(err.value)
    finally:
        src.close()
    server.route("/stream", Reply(503, b"overloaded"), then=stream(event(9), hold=True))
    events.clear()
    src = make(server.url("/stream"), events)
    try:
        assert drain(src, 1) == [{"id": 9, "title": "Page 9", "wiki": "enwiki", "bot": False}]
        assert events[0]["status"] == 503 and "overloaded" in events[0]["reason"]
    finally:
        src.close()


def test_malformed_event_data_is_reported_and_the_stream_goes_on(server):
    """Event data that is not JSON is logged with an excerpt; later events still arrive."""
    server.route("/stream", stream(b"data: {broken\n\n", b"data: [1, 2]\n\n", event(5), hold=True))
    events: list = []
    src = make(server.url("/stream"), events)
    try:
        assert [r["id"] for r in drain(src, 1)] == [5]
        assert [e["kind"] for e in events] == ["not_json", "not_objects"]
        assert "{broken" in events[0]["reason"] and src.stats["malformed"] == 2
    finally:
        src.close()


def test_full_buffer_drops_oldest_and_counts_every_drop(server):
    """With a small buffer the oldest events are dropped, counted and reported."""
    server.route("/stream", stream(*(event(i) for i in range(20)), hold=True))
    events: list = []
    src = make(server.url("/stream"), events, buffer_size=5, batch_size=3)
    try:
        src.start()
        assert wait_until(lambda: src.stats["events"] == 20)
        first, second = src.fetch(), src.fetch()
        assert [r["id"] for r in first + second] == [15, 16, 17, 18, 19]
        assert src.stats["dropped"] == 15
        assert events[0]["kind"] == "buffer_full" and events[0]["reason"].startswith("15 event")
    finally:
        src.close()


def test_http_204_ends_the_stream_for_good(server):
    """A 204 means 'do not reconnect': the reader stops and fetch reports it."""
    server.route("/stream", Reply(204))
    src = make(server.url("/stream"))
    src.start()
    assert wait_until(lambda: not src.alive)
    with pytest.raises(SourceError, match="HTTP 204"):
        src.fetch()
    assert len(server.hits("/stream")) == 1
    src.close()


def test_stop_is_idempotent_and_reports_the_thread_ended(server):
    """stop() ends the reader on an idle stream and returns True, again on a second call;
    start() after it starts nothing, and stop() on a source never started is True."""
    server.route("/stream", stream(b": hello\n\n", hold=True))
    src = make(server.url("/stream"), read_timeout=600)
    assert make(server.url("/stream")).stop() is True
    src.start()
    src.start()
    assert wait_until(lambda: src.connected)
    assert src.stop(timeout=within()) is True and not src.alive
    assert src.stop(timeout=0) is True
    src.start()
    assert not src.alive
    src.close()


def test_close_unblocks_a_reader_waiting_on_an_idle_stream(server):
    """close() ends the reader even while it waits on a silent, held-open connection."""
    server.route("/stream", stream(b": hello\n\n", hold=True))
    src = make(server.url("/stream"), read_timeout=600)
    src.start()
    assert wait_until(lambda: src.connected)
    src.close(timeout=5)
    assert not src.alive
    assert src.fetch() == []  # a closed source does not restart


def test_build_from_settings_and_errors(server, monkeypatch):
    """The registry builds an sse source; headers expand env vars; bad settings name their key."""
    monkeypatch.setenv("SSE_TOKEN", "tok-123456789")
    src = build_source(Settings({"source": {"type": "sse", "url": server.url("/s"),
                                            "headers": {"Authorization": "Bearer ${SSE_TOKEN}"},
                                            "batch_size": 50, "event_types": "message"}}))
    assert isinstance(src, SseSource) and src.batch_size == 50
    assert src.event_types == ("message",) and "tok-123456789" not in repr(src.describe())
    src.close()
    for params, key in (({}, "source.url"), ({"url": "http://h/", "buffer_size": 0},
                                               "source.buffer_size")):
        with pytest.raises(ConfigError) as err:
            build_source(Settings({"source": {"type": "sse", **params}}))
        assert err.value.key == key
