"""The http source against a real local server: the fault matrix, secrets, conditional requests."""

from __future__ import annotations

import logging
import threading

import pytest

from streamdash.config import Settings
from streamdash.errors import ConfigError, SourceError
from streamdash.sources import build_source
from streamdash.sources.fields import parse_fields
from streamdash.sources.http import HttpSource, body_excerpt, build_http, hints_for
from streamdash.sources.retry import RetryPolicy
from tests.httpserver import Reply, ScriptedServer, json_reply

ITEMS = {"items": [{"id": 1, "v": "1.5"}, {"id": 2, "v": "2.5"}]}
EXPECTED = [{"id": 1, "v": 1.5}, {"id": 2, "v": 2.5}]


def make(url: str, events: list | None = None, **kw) -> HttpSource:
    """An http source with millisecond backoff so retries are fast without sleeping."""
    kw.setdefault("records_path", "items")
    kw.setdefault("fields", parse_fields("source.fields", {"id": "id:int", "v": "v:float"}))
    kw.setdefault("retry", RetryPolicy(max_tries=3, max_time=10, base=0.001, cap=0.005))
    return HttpSource("test", url=url, on_error=(events.append if events is not None else None),
                      **kw)


def kinds(events: list) -> list[str]:
    return [e["kind"] for e in events]


@pytest.fixture(autouse=True)
def logged(caplog):
    """The ingestion-error log lines of the test (each carries the event's fields)."""
    caplog.set_level(logging.DEBUG, "streamdash")  # each attempt: DEBUG (one WARNING a poll)
    return lambda: [r.ctx for r in caplog.records if r.name == "streamdash.sources"]


def assert_logged(logged, events: list) -> None:
    """Every reported event was also logged, with the same kind, reason and attempt."""
    lines = logged()
    assert [(x["kind"], x["reason"], x["attempt"]) for x in lines] == \
        [(e["kind"], e["reason"], e["attempt"]) for e in events]


def test_connection_refused_retried_logged_then_recovers(closed_port, caplog):
    """A refused connection is retried max_tries times, logged with its reason, and recovers."""
    events: list = []
    src = make(f"http://127.0.0.1:{closed_port}/data", events)
    with caplog.at_level(logging.DEBUG, "streamdash"), pytest.raises(SourceError) as err:
        src.fetch()
    assert err.value.kind == "connection" and "gave up after 3 attempts" in str(err.value)
    assert kinds(events) == ["connection"] * 3
    assert [e["attempt"] for e in events] == [1, 2, 3]
    assert events[0]["next_delay"] is not None and events[-1]["next_delay"] is None
    assert "connection failed" in events[0]["reason"]
    # Attempts are DEBUG: the producer logs the one WARNING line of the failed poll.
    assert [r.levelname for r in caplog.records if r.name.startswith("streamdash.sources")] == \
        ["DEBUG", "DEBUG", "DEBUG"]
    assert events[0]["reason"] == "connection failed: Connection refused"
    with ScriptedServer(port=closed_port) as srv:
        srv.route("/data", json_reply(ITEMS))
        assert src.fetch() == EXPECTED
    src.close()


def test_read_timeout_retried_then_recovers(server, logged):
    """A server that hangs past the read timeout is retried, then the next poll succeeds."""
    server.route("/data", Reply(delay=2), Reply(delay=2), then=json_reply(ITEMS))
    events: list = []
    src = make(server.url("/data"), events, read_timeout=0.2,
               retry=RetryPolicy(max_tries=2, max_time=10, base=0.001, cap=0.005))
    with pytest.raises(SourceError):
        src.fetch()
    assert kinds(events) == ["timeout", "timeout"]
    assert "timed out" in events[0]["reason"]
    assert src.fetch() == EXPECTED
    assert len(server.hits("/data")) == 3
    assert_logged(logged, events)


def test_500_is_retried_within_the_same_poll(server, logged):
    """A 500 then a good answer yields the records in the same poll, with one error logged."""
    server.route("/data", Reply(500, b"internal oops"), then=json_reply(ITEMS))
    events: list = []
    src = make(server.url("/data"), events)
    assert src.fetch() == EXPECTED
    assert kinds(events) == ["server_error"]
    assert events[0]["status"] == 500 and "internal oops" in events[0]["reason"]
    assert len(server.hits("/data")) == 2 and src.stats["retries"] == 1
    assert_logged(logged, events)


def test_503_gives_up_after_max_tries_then_recovers(server, logged):
    """A persistent 503 exhausts max_tries, raises SourceError, and the next healthy poll works."""
    server.route("/data", Reply(503), Reply(503), Reply(503), then=json_reply(ITEMS))
    events: list = []
    src = make(server.url("/data"), events)
    with pytest.raises(SourceError) as err:
        src.fetch()
    assert err.value.kind == "server_error" and "HTTP 503" in str(err.value)
    assert [e["status"] for e in events] == [503, 503, 503]
    assert len(server.hits("/data")) == 3
    assert src.fetch() == EXPECTED and src.stats["failed_polls"] == 1
    assert_logged(logged, events)


def test_429_retry_after_seconds_is_honoured(server, logged):
    """A 429 with Retry-After waits the server's time (not the jittered backoff), then succeeds."""
    server.route("/data", Reply(429, headers={"Retry-After": "1"}), then=json_reply(ITEMS))
    events: list = []
    src = make(server.url("/data"), events)
    assert src.fetch() == EXPECTED
    assert kinds(events) == ["rate_limited"]
    assert events[0]["next_delay"] == 1.0 and "server asks to wait 1 s" in events[0]["reason"]
    assert len(server.hits("/data")) == 2
    assert_logged(logged, events)


def test_rate_limit_header_in_seconds_is_honoured(server):
    """X-Rate-Limit-Retry-After-Seconds sets the wait before the next try."""
    server.route("/data", Reply(503, headers={"X-Rate-Limit-Retry-After-Seconds": "0.3"}),
                 then=json_reply(ITEMS))
    events: list = []
    src = make(server.url("/data"), events)
    assert src.fetch() == EXPECTED
    assert events[0]["next_delay"] == 0.3


def test_retry_after_beyond_budget_skips_polls_until_due(server):
    """A Retry-After longer than max_time ends the poll at once and later polls wait for it."""
    now = [1000.0]
    server.route("/data", Reply(429, headers={"Retry-After": "120"}), then=json_reply(ITEMS))
    events: list = []
    src = make(server.url("/data"), events, monotonic=lambda: now[0],
               retry=RetryPolicy(max_tries=3, max_time=5, base=0.001, cap=0.005))
    with pytest.raises(SourceError):
        src.fetch()
    assert len(events) == 1 and events[0]["next_delay"] is None
    assert src.fetch() == [] and src.stats["skipped_rate_limited"] == 1
    assert len(server.hits("/data")) == 1
    now[0] += 121
    assert src.fetch() == EXPECTED


def test_404_is_permanent_and_not_retried(server, logged):
    """A 404 is logged once at ERROR and never retried."""
    server.route("/data", Reply(404, b'{"error": "not found"}'))
    events: list = []
    src = make(server.url("/data"), events)
    with pytest.raises(SourceError) as err:
        src.fetch()
    assert err.value.kind == "client_error" and "gave up after 1 attempt)" in str(err.value)
    assert len(server.hits("/data")) == 1
    assert events[0]["status"] == 404 and events[0]["next_delay"] is None
    assert "not found" in events[0]["reason"]
    server.route("/data", json_reply(ITEMS))  # fixed on the server side
    assert src.fetch() == EXPECTED
    assert_logged(logged, events)


@pytest.mark.parametrize("body, kind, words", [
    (b"<html><body>Bad gateway page</body></html>", "not_json", "body is not JSON"),
    (b'{"items": [{"id": 1, "v": "1.5"}, {"id": 2', "truncated_json", "truncated JSON"),
    (b"", "not_json", "empty body"),
    (b'{"data": []}', "records_path", "records_path 'items' not found; top-level keys: data"),
    (b'{"items": 5}', "records_path", "leads to a number"),
    (b'{"items": [1, 2, 3]}', "not_objects", "list of number values"),
])
def test_malformed_bodies_are_logged_with_excerpt_and_not_retried(server, body, kind, words,
                                                                   logged):
    """Malformed bodies yield an ingestion error with reason and excerpt; the next poll recovers."""
    server.route("/data", Reply(200, body), then=json_reply(ITEMS))
    events: list = []
    src = make(server.url("/data"), events)
    with pytest.raises(SourceError) as err:
        src.fetch()
    assert err.value.kind == kind and len(server.hits("/data")) == 1
    assert words in events[0]["reason"] and events[0]["status"] == 200
    if body:
        assert body_excerpt(body)[:20] in events[0]["reason"]
    assert src.fetch() == EXPECTED
    assert_logged(logged, events)


def test_oversized_body_with_content_length_is_refused_unread(server, logged):
    """A Content-Length above max_bytes is reported as 'response too large' without retry."""
    server.route("/data", Reply(200, b"[" + b"0," * 5000 + b"0]"), then=json_reply(ITEMS))
    events: list = []
    src = make(server.url("/data"), events, max_bytes=1000)
    with pytest.raises(SourceError) as err:
        src.fetch()
    assert err.value.kind == "too_large" and "response too large" in events[0]["reason"]
    assert len(server.hits("/data")) == 1
    assert src.fetch() == EXPECTED
    assert_logged(logged, events)


def test_oversized_streamed_body_is_aborted_while_reading(server, logged):
    """A body without Content-Length is aborted as soon as it passes max_bytes."""
    chunk = b"x" * 600
    server.route("/data", Reply(200, chunks=[(chunk, 0)] * 50), then=json_reply(ITEMS))
    events: list = []
    src = make(server.url("/data"), events, max_bytes=1000)
    with pytest.raises(SourceError):
        src.fetch()
    assert events[0]["kind"] == "too_large"
    assert "more than 1000 bytes" in events[0]["reason"]
    assert src.fetch() == EXPECTED
    assert_logged(logged, events)


def test_connection_cut_mid_body_is_retried(server, logged):
    """A body shorter than its Content-Length (connection cut) counts as a retryable failure."""
    server.route("/data", Reply(200, b'{"items": [', content_length=500), then=json_reply(ITEMS))
    events: list = []
    src = make(server.url("/data"), events)
    assert src.fetch() == EXPECTED
    assert kinds(events) == ["connection"] and "body read failed" in events[0]["reason"]
    assert_logged(logged, events)


def test_empty_list_is_an_empty_poll_not_an_error(server, logged):
    """An empty record list returns no records and logs nothing."""
    server.route("/data", json_reply({"items": []}))
    events: list = []
    src = make(server.url("/data"), events)
    assert src.fetch() == [] and events == []
    assert_logged(logged, events)


def test_304_after_etag_is_an_empty_poll(server, logged):
    """After an ETag/Last-Modified the source sends validators; a 304 is an empty poll."""
    def conditional(req):
        if req.headers.get("If-None-Match") == '"v1"':
            return Reply(304)
        return json_reply(ITEMS, headers={"ETag": '"v1"',
                                          "Last-Modified": "Wed, 21 Oct 2026 07:28:00 GMT"})
    server.route("/data", conditional)
    events: list = []
    src = make(server.url("/data"), events)
    assert src.fetch() == EXPECTED
    assert src.fetch() == []
    second = server.hits("/data")[1]
    assert second.headers["If-None-Match"] == '"v1"'
    assert second.headers["If-Modified-Since"] == "Wed, 21 Oct 2026 07:28:00 GMT"
    assert events == [] and src.stats["not_modified"] == 1
    assert_logged(logged, events)


def test_conditional_requests_can_be_turned_off(server):
    """With conditional: false no validators are sent."""
    server.route("/data", json_reply(ITEMS, headers={"ETag": '"v1"'}))
    src = make(server.url("/data"), conditional=False)
    src.fetch()
    src.fetch()
    assert "If-None-Match" not in server.hits("/data")[1].headers


def test_one_session_reuses_the_connection(server):
    """Consecutive polls go over one kept-alive connection of the source's session."""
    server.route("/data", json_reply(ITEMS))
    src = make(server.url("/data"))
    for _ in range(3):
        src.fetch()
    pools = src.session.get_adapter(server.url()).poolmanager.pools
    assert len(pools.keys()) == 1
    pool = pools[list(pools.keys())[0]]
    assert pool.num_connections == 1 and pool.num_requests == 3


def test_params_and_headers_are_sent(server):
    """Query params and headers from the settings go out with every request."""
    server.route("/data", json_reply(ITEMS))
    src = make(server.url("/data"), params={"limit": "5", "q": "a b"},
               headers={"X-Client": "demo"})
    src.fetch()
    hit = server.hits("/data")[0]
    assert hit.path == "/data?limit=5&q=a+b" and hit.headers["X-Client"] == "demo"


def test_secrets_never_appear_in_events_logs_errors_or_describe(server, caplog):
    """Header values and secret query params are masked everywhere, even when echoed back."""
    key, token = "hdr-SECRET-123", "qry-SECRET-456"
    server.route("/data", Reply(401, f"bad key {key} / {token}".encode()))
    events: list = []
    src = make(server.url("/data"), events, headers={"Authorization": f"Bearer {key}"},
               params={"api_key": token, "city": "Oslo"})
    with caplog.at_level(logging.DEBUG, "streamdash"), pytest.raises(SourceError) as err:
        src.fetch()
    assert server.hits("/data")[0].headers["Authorization"] == f"Bearer {key}"
    outputs = [str(err.value), repr(events), repr(src.describe()), caplog.text]
    for text in outputs:
        assert key not in text and token not in text
    assert "api_key=***" in events[0]["url"] and "city=Oslo" in events[0]["url"]
    assert src.describe()["headers"] == {"Authorization": "***"}


def test_header_values_expand_environment_variables(server, monkeypatch):
    """${NAME} in a header value is read from the environment at build time."""
    monkeypatch.setenv("DEMO_API_KEY", "from-env-789")
    server.route("/data", json_reply(ITEMS))
    src = build_http("env", {"url": server.url("/data"), "records_path": "items",
                             "headers": {"X-Api-Key": "${DEMO_API_KEY}"}}, Settings())
    src.fetch()
    assert server.hits("/data")[0].headers["X-Api-Key"] == "from-env-789"
    assert "from-env-789" not in repr(src.describe())
    with pytest.raises(ConfigError, match="source.headers.X-Api-Key: environment variable "
                                          "MISSING_VAR_X is not set"):
        build_http("env", {"url": server.url("/"), "headers": {"X-Api-Key": "${MISSING_VAR_X}"}},
                   Settings())


def test_interrupt_ends_a_retry_wait_promptly(server):
    """interrupt() (runtime stopping) ends a long Retry-After wait and the poll returns nothing."""
    server.route("/data", Reply(503, headers={"Retry-After": "30"}))
    src = make(server.url("/data"), retry=RetryPolicy(max_tries=3, max_time=60))
    out: list = []
    worker = threading.Thread(target=lambda: out.append(src.fetch()))
    worker.start()
    while not src.stats["retries"]:
        worker.join(0.01)
    src.interrupt()
    worker.join(5)
    assert not worker.is_alive() and out == [[]]
    assert src.fetch() == []
    src.close()


def test_build_from_settings_and_config_errors(server):
    """The registry builds the http source from settings; bad settings name their key."""
    server.route("/data", json_reply(ITEMS))
    settings = Settings({"source": {"type": "http", "url": server.url("/data"),
                                    "records_path": "items", "fields": ["v=v:float"],
                                    "max_tries": 2, "read_timeout": 1}})
    src = build_source(settings)
    assert src.fetch() == [{"v": 1.5}, {"v": 2.5}]
    assert src.retry.max_tries == 2 and src.timeout == (3.0, 1.0)
    bad = [({}, "source.url"), ({"url": "ftp://x"}, "source.url"),
           ({"url": "http://h/", "fields": {"a": "b:decimal"}}, "source.fields.a.type"),
           ({"url": "http://h/", "bogus": 1}, "source.bogus"),
           ({"url": "http://h/", "params": {"a": [1]}}, "source.params.a"),
           ({"url": "http://h/", "max_bytes": 0}, "source.max_bytes"),
           ({"url": "http://h/", "conditional": "maybe"}, "source.conditional")]
    for params, key in bad:
        with pytest.raises(ConfigError) as err:
            build_http("x", params, Settings())
        assert err.value.key == key


def test_hints_follow_the_field_map():
    """Without a preset, the first timestamp and numeric fields become the source's hints."""
    hints = hints_for(parse_fields("f", {"name": "n:str", "t": "ts:timestamp_ms", "v": "v:int"}))
    assert (hints.time_field, hints.value_field, hints.numeric_fields) == ("t", "v", ("v",))


def test_secret_headers_do_not_follow_a_redirect_to_another_host(server):
    """A redirect to another host gets no API-key header; a same-host redirect keeps it."""
    with ScriptedServer() as other:
        other.route("/elsewhere", json_reply(ITEMS))
        server.route("/data", Reply(302, headers={"Location": other.url("/elsewhere")}))
        server.route("/moved", Reply(301, headers={"Location": "/here"}))
        server.route("/here", json_reply(ITEMS))
        src = make(server.url("/data"), headers={"X-Api-Key": "key-0123456789",
                                                 "X-Client": "demo"})
        assert src.fetch() == EXPECTED
        hop = other.hits("/elsewhere")[0].headers
        assert "X-Api-Key" not in hop
        same = make(server.url("/moved"), headers={"X-Api-Key": "key-0123456789"})
        assert same.fetch() == EXPECTED
        assert server.hits("/here")[0].headers["X-Api-Key"] == "key-0123456789"
