"""Tests for streamdash.server.query and the paging of /api/*: hostile parameters are a 400,
every answer is a bounded page, and following ``next`` returns every item exactly once."""

import json
import logging
import sqlite3
import time

import pytest

from streamdash.config import Settings
from streamdash.reporter import SNAPSHOT_FIELDS
from streamdash.runtime import Runtime
from streamdash.server.query import (
    Cursor,
    Query,
    QueryError,
    memory_page,
    page,
    parse_cursor,
    parse_query,
)
from streamdash.store.history import History, SqliteReader, SqliteStore, database_path
from streamdash.testing import ListSource
from tests.server.test_routes import Server

ENDPOINTS = ("metrics", "errors", "dlq", "alerts", "windows")
#: (query string, the parameter the 400 must name) — the attacks of issue #13 case 6 and kin.
HOSTILE = [
    ("since=99999999999d", "since"), ("until=9999-12-31T23:59:59-12:00", "until"),
    ("since=0001-01-01T00:00:00%2B14:00", "since"), ("since=99999999999w&until=now", "since"),
    ("since=1" + "0" * 400 + "s", "since"), ("until=-1d", "until"), ("since=nan", "since"),
    ("since=1969-12-31T23:59:59Z", "since"), ("limit=99999999999999999999999", "limit"),
    ("limit=100000", "limit"), ("cursor=abc", "cursor"), ("cursor=1e400:1", "cursor"),
    ("cursor=5:-1", "cursor"), ("cursor=" + "9" * 5000, "cursor"),
    ("cursor=1:2&cursor=1:3", "cursor"),
]


def _server(tmp_path, **settings):
    runtime = Runtime(Settings({"data_dir": str(tmp_path), **settings}), ListSource([]))
    with History(SqliteStore(database_path(tmp_path))):  # creates an (empty) database
        pass
    return runtime, Server(runtime)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """A server over an (empty) history database and one over the in-memory views."""
    runtime, with_db = _server(tmp_path_factory.mktemp("db"))
    memory = Server(Runtime(Settings({}), ListSource([])))
    yield {"history": with_db, "memory": memory}
    with_db.close()
    memory.close()


@pytest.mark.parametrize("backend", ["history", "memory"])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("query,param", HOSTILE)
def test_hostile_parameters_are_a_400_naming_the_parameter(servers, backend, endpoint, query,
                                                           param, caplog):
    """Out-of-range times, huge limits and forged cursors get a JSON 400 naming the parameter,
    never a 500 or a traceback in the log."""
    with caplog.at_level(logging.ERROR):
        status, text = servers[backend].get(f"/api/{endpoint}?{query}")
    assert status == 400, text[:200]
    assert param in json.loads(text)["error"]
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_step_too_fine_for_the_range_and_cursor_with_step_are_400(servers):
    """A step leaving more points than a page holds, or paging a stepped answer, is a 400."""
    status, body = servers["history"].json("/api/metrics?since=8d&step=1s")
    assert status == 400 and "step" in body["error"] and "at least" in body["error"]
    status, body = servers["history"].json("/api/metrics?step=1m&cursor=5:1")
    assert status == 400 and "cursor" in body["error"]
    assert servers["history"].json("/api/metrics?step=0s")[0] == 400


def _fill_snapshots(path, n, t0, step=30.0):
    with sqlite3.connect(path) as conn:
        row = json.dumps({name: 12345.678 for name in SNAPSHOT_FIELDS})
        conn.executemany("INSERT INTO snapshots (ts, data) VALUES (?, ?)",
                         ((t0 + i * step, row) for i in range(n)))


def test_a_large_range_answers_a_bounded_page_and_next_pages_through_it(tmp_path):
    """/api/metrics?since=8d over 20,000 snapshots answers at most api.max_limit values (bytes
    bounded too); following ``next`` returns every snapshot once, newest page first."""
    runtime, server = _server(tmp_path)
    try:
        now = time.time()
        _fill_snapshots(database_path(tmp_path), 20_000, now - 8 * 86400 + 60)
        status, text = server.get("/api/metrics?since=8d")
        body = json.loads(text)
        values = sum(len(points) for points in body["series"].values())
        assert status == 200 and 0 < values <= 10_000 and body["next"]
        assert len(text) < 1_500_000  # ~70 bytes a value: the attack's 135 MB is out of reach
        assert server.get("/api/metrics?since=8d&limit=100000")[0] == 400
        # One name: pages of 10,000 snapshots; walking them yields every snapshot once.
        seen, url = [], "/api/metrics?since=8d&name=queue_fill"
        for _ in range(10):
            body = server.json(url)[1]
            seen = [p["t"] for p in body["series"]["queue_fill"]] + seen
            if body["next"] is None:
                break
            url = f"/api/metrics?since=8d&name=queue_fill&cursor={body['next']}"
        assert len(seen) == 20_000 and seen == sorted(set(seen))
        # Downsampled: the whole range in one bounded answer.
        body = server.json("/api/metrics?since=8d&step=1h&name=queue_fill")[1]
        assert 150 < len(body["series"]["queue_fill"]) <= 8 * 24 + 1 and body["next"] is None
    finally:
        server.close()


def test_event_pages_cover_ties_once_and_stop_at_max_bytes(tmp_path):
    """DLQ rows sharing one timestamp are paged without loss or repeat, and a page ends at
    api.max_bytes of items even below its limit."""
    runtime, server = _server(tmp_path, **{"api": {"max_bytes": 20_000}})
    try:
        t0 = time.time() - 600
        with sqlite3.connect(database_path(tmp_path)) as conn:
            conn.executemany("INSERT INTO dlq (ts, source, reasons, record) VALUES (?, ?, ?, ?)",
                             ((t0 + i // 50, "s", "[]", json.dumps({"i": i, "pad": "x" * 900}))
                              for i in range(250)))
        seen, url, sizes = [], "/api/dlq?limit=100", []
        while url:
            status, text = server.get(url)
            body = json.loads(text)
            assert status == 200
            sizes.append(len(text))
            seen += [item["record"]["i"] for item in body["items"]]
            url = f"/api/dlq?limit=100&cursor={body['next']}" if body["next"] else None
        assert sorted(seen) == list(range(250)) and len(seen) == 250
        assert max(sizes) < 20_000 + 2_000 and len(sizes) >= 250 * 900 // 20_000
    finally:
        server.close()


def test_memory_pages_walk_items_of_one_time_once():
    """In-memory views page by time and by how many items of the cursor's time were shown."""
    items = [{"ts": t, "n": i} for i, t in enumerate([5, 5, 5, 4, 4, 3])]
    q = Query(since=0, until=10, limit=2)
    seen = []
    while True:
        got, nxt = memory_page(items, q, lambda i: i["ts"])
        seen += [i["n"] for i in got]
        if nxt is None:
            break
        ts, tie = nxt.split(":")
        q = Query(since=0, until=10, limit=2, cursor=Cursor(float(ts), int(tie)))
    assert seen == [0, 1, 2, 3, 4, 5]


def test_metric_limit_counts_values_across_names():
    """For /api/metrics the page budget is values: two names may each have half of it."""
    args = {"name": ["queue_fill,queue_depth"]}
    q = parse_query(args, 1e9, allowed=("name",), default_since="1h", default_limit=10_000,
                    max_limit=100)
    assert q.limit == 50
    with pytest.raises(QueryError, match="limit"):
        parse_query({**args, "limit": ["51"]}, 1e9, allowed=("name",), default_since="1h",
                    default_limit=10_000, max_limit=100)


def test_a_query_running_past_max_seconds_is_interrupted(tmp_path):
    """A history query is stopped at the reader's max_seconds (here an endless one, 0.2 s)."""
    from streamdash.store.history import QueryTooSlow

    with History(SqliteStore(database_path(tmp_path))):
        pass
    endless = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
               "SELECT COUNT(*) FROM c")
    start = time.monotonic()
    with pytest.raises(QueryTooSlow, match="0.2 s"):
        SqliteReader(database_path(tmp_path)).limited(0.2)._select(endless, ())
    assert time.monotonic() - start < 5


def test_too_slow_is_a_503_naming_the_setting(tmp_path, monkeypatch):
    """The API answers a query interrupted by api.max_seconds with a 503 that says what to
    narrow, and passes the setting to the reader."""
    from streamdash.store.history import HistoryReader, QueryTooSlow

    seen = []

    def slow(self, *args, **kw):
        seen.append(self.max_seconds)
        raise QueryTooSlow(f"query stopped after {self.max_seconds:g} s")

    monkeypatch.setattr(HistoryReader, "metric_buckets", slow)
    runtime, server = _server(tmp_path, **{"api": {"max_seconds": 0.5}})
    try:
        status, body = server.json("/api/metrics?since=1d&step=5m")
    finally:
        server.close()
    assert status == 503 and "api.max_seconds" in body["error"] and seen == [0.5]


# -- parse_query, parse_cursor, page and memory_page on their own (no server) ------------------
NOW = 1_700_000_000.0


def parse(args, allowed=("name", "state", "key", "step"), max_limit=1000, default_limit=100):
    """parse_query with the settings the tests below share."""
    return parse_query(args, NOW, allowed=allowed, default_since="1h",
                       default_limit=default_limit, max_limit=max_limit)


def test_defaults_are_the_last_hour_and_the_default_limit():
    """No parameters: since is default_since ago, until is now, the default limit, no cursor."""
    q = parse({}, allowed=())
    assert (q.since, q.until, q.limit) == (NOW - 3600, NOW, 100)
    assert q.names == () and q.state is None and q.key is None and q.cursor is None
    assert q.step == 0.0


@pytest.mark.parametrize("args,param", [
    ({"bogus": ["1"]}, "'bogus'"),
    ({"since": ["1h", "2h"]}, "since"),
    ({"limit": ["ten"]}, "limit"), ({"limit": ["0"]}, "limit"), ({"limit": ["1001"]}, "limit"),
    ({"name": ["queue_fill,"]}, "name"), ({"name": ["no_such_metric"]}, "name"),
    ({"state": ["burning"]}, "state"), ({"key": [""]}, "key"),
    ({"step": ["fast"]}, "step"), ({"step": ["0s"]}, "step"),
    ({"step": ["1s"], "since": ["1d"]}, "step"),
    ({"step": ["1m"], "cursor": ["5:1"]}, "cursor"),
    ({"since": ["now"], "until": ["2h"]}, "since"),
])
def test_bad_parameters_are_query_errors_naming_the_parameter(args, param):
    """Each malformed, out-of-range, repeated or unknown parameter is a QueryError whose one-line
    message names it."""
    with pytest.raises(QueryError, match=param) as err:
        parse(args)
    assert "\n" not in str(err.value)


def test_a_parameter_the_endpoint_does_not_take_is_unknown_there():
    """``state`` is refused where it is not allowed, and the message lists what is known."""
    with pytest.raises(QueryError, match="unknown parameter 'state'.*known: cursor, limit"):
        parse({"state": ["firing"]}, allowed=())


def test_names_are_split_on_commas_and_kept_once_in_order():
    """``name`` may repeat and hold lists; each metric is kept once, in the order first given."""
    q = parse({"name": ["queue_fill,latency_p95", "queue_fill", " error_rate "]})
    assert q.names == ("queue_fill", "latency_p95", "error_rate")


def test_valid_state_key_step_and_cursor_are_returned():
    """Every accepted parameter comes back validated and typed."""
    q = parse({"state": ["firing"], "key": ["sensor-1"], "since": ["30m"], "step": ["1m"]})
    assert q.state == "firing" and q.key == "sensor-1" and q.step == 60.0
    q = parse({"cursor": [Cursor(NOW - 5, 3).token]})
    assert q.cursor == Cursor(NOW - 5, 3)


def test_cursor_tokens_round_trip_exactly():
    """A cursor's token parses back to the same cursor (float times kept to the last bit)."""
    for cursor in (Cursor(0.0, 0), Cursor(NOW + 0.1234567, 7), Cursor(253402300799.0, 2**63 - 1)):
        assert parse_cursor(cursor.token) == cursor
    assert parse_cursor(None) is None


@pytest.mark.parametrize("token", ["", "5", "5:", ":5", "x:1", "5:x", "5:-1", "nan:1", "inf:1",
                                   "-1:0", "253402300800:0", f"5:{2**63}", "5:1.5", "1:2:3"])
def test_forged_cursors_are_refused(token):
    """Anything but a ``<ts>:<tie>`` the API could have given out is a QueryError on cursor."""
    with pytest.raises(QueryError, match="cursor"):
        parse_cursor(token)


def test_a_forged_cursor_is_echoed_at_most_40_characters():
    """A huge forged cursor is not echoed whole in the error (bounded answer)."""
    with pytest.raises(QueryError) as err:
        parse_cursor("9" * 5000)
    assert len(str(err.value)) < 200


def test_page_cuts_at_the_limit_and_gives_the_next_cursor():
    """``limit + 1`` items fetched: the page holds ``limit`` and ``next`` is the last one's
    cursor; when nothing is left over there is no ``next``."""
    items = [{"ts": 10 - i, "id": 100 - i} for i in range(4)]

    def key(item):
        return Cursor(item["ts"], item["id"])

    got, nxt = page(items, 3, key)
    assert got == items[:3] and nxt == Cursor(8, 98).token
    assert page(items[:3], 3, key) == (items[:3], None)
    assert page([], 3, key) == ([], None)


def test_page_stops_at_max_bytes_but_always_keeps_one_item():
    """A byte budget ends the page early; an item bigger than the budget still makes a page of
    one, so following ``next`` always advances."""
    items = [{"ts": 10 - i, "id": i, "size": 40} for i in range(5)]

    def key(item):
        return Cursor(item["ts"], item["id"])

    def size(item):
        return item["size"]

    got, nxt = page(items, 5, key, max_bytes=100, size=size)
    assert [i["id"] for i in got] == [0, 1] and nxt == Cursor(9, 1).token
    got, nxt = page(items, 5, key, max_bytes=10, size=size)
    assert [i["id"] for i in got] == [0] and nxt == Cursor(10, 0).token


def test_memory_pages_keep_to_the_range_and_the_byte_budget():
    """An in-memory page holds only items inside since..until and ends at max_bytes."""
    items = [{"ts": t} for t in (9, 8, 7, 6, 5, 4)]
    got, nxt = memory_page(items, Query(since=5, until=8, limit=10), lambda i: i["ts"])
    assert [i["ts"] for i in got] == [8, 7, 6, 5] and nxt is None
    got, nxt = memory_page(items, Query(since=0, until=10, limit=10), lambda i: i["ts"],
                           max_bytes=25, size=lambda i: 10)
    assert [i["ts"] for i in got] == [9, 8] and nxt == Cursor(8, 1).token


def test_memory_pages_count_ties_across_several_pages():
    """When a page ends inside a run of one time twice over, the cursor's tie counts every item
    of that time shown so far, so nothing is repeated or skipped."""
    items = [{"ts": 5, "n": i} for i in range(5)] + [{"ts": 4, "n": 5}]
    q, seen, tokens = Query(since=0, until=10, limit=2), [], []
    while True:
        got, nxt = memory_page(items, q, lambda i: i["ts"])
        seen += [i["n"] for i in got]
        if nxt is None:
            break
        tokens.append(nxt)
        q = Query(since=0, until=10, limit=2, cursor=parse_cursor(nxt))
    assert seen == [0, 1, 2, 3, 4, 5] and tokens[:2] == [Cursor(5, 2).token, Cursor(5, 4).token]
