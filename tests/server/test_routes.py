"""Tests for streamdash.server.routes: probes, /metrics and the JSON query API over real HTTP."""

import json
import threading
import time

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.serving import make_server

from streamdash.config import Settings
from streamdash.errors import SourceError
from streamdash.models import utc_iso
from streamdash.runtime import Runtime
from streamdash.server.routes import register_routes
from streamdash.sources.base import FieldHints, Source
from streamdash.testing import FailingSource, ListSource
from tests.helpers import wait_until, within

API_KEY = "SEKRET-API-KEY-12345"
SETTINGS = {"source": {"type": "http", "url": f"http://127.0.0.1:9/data?api_key={API_KEY}",
                       "headers": {"Authorization": "Bearer HEADER-TOKEN-999"}},
            "source.interval": 0.1, "storage": {"snapshot_interval": 0.1}}


class SwitchSource(Source):
    """A source that answers while ``up`` is set and fails while it is cleared."""

    kind = "switch"
    hints = FieldHints(value_field="value", key_field="key", required=("id",))

    def __init__(self):
        super().__init__("switch")
        self.up = threading.Event()
        self.up.set()
        self.n = 0

    def fetch(self):
        if not self.up.is_set():
            raise SourceError("connection refused", source=self.name, kind="connection")
        self.n += 1
        return [{"id": self.n, "value": 1.0, "key": "a", "note": f"echo {API_KEY}"}]


class Server:
    """A real HTTP server on 127.0.0.1 (port 0) serving the routes of one runtime."""

    def __init__(self, runtime):
        app = Flask("routes-test")
        register_routes(app, runtime)
        self.httpd = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def get(self, path):
        import requests

        r = requests.get(self.url + path, timeout=10)
        return r.status_code, r.text

    def json(self, path):
        status, text = self.get(path)
        return status, json.loads(text)

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def serve():
    """Start servers for runtimes; stop servers and runtimes afterwards."""
    made = []

    def start(runtime):
        server = Server(runtime)
        made.append((server, runtime))
        return server

    yield start
    for server, runtime in made:
        server.close()
        runtime.stop()


def started(runtime):
    """``runtime`` after ``start()`` (which returns nothing, as every service's does)."""
    runtime.start()
    return runtime


def wait_json(server, path, predicate, timeout=15.0):
    """Poll ``path`` until ``predicate(status, body)`` holds; returns the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = server.json(path)
        if predicate(status, body) or time.monotonic() > deadline:
            return status, body
        time.sleep(0.05)


def test_health_shape_and_down_then_back_up(serve, tmp_path):
    """/health is 200 ok, 503 down while the source keeps failing, and 200 again once it answers."""
    source = SwitchSource()
    runtime = Runtime(Settings({**SETTINGS, "data_dir": str(tmp_path)}), source)
    server = serve(started(runtime))
    status, body = wait_json(server, "/health", lambda s, b: b["status"] == "ok"
                             and b["components"]["source"]["last_success"])
    assert status == 200 and body["version"] and body["uptime_s"] >= 0
    comps = body["components"]
    assert {"producer", "consumer", "source", "queue", "storage", "alerts"} <= set(comps)
    assert comps["queue"]["capacity"] == 100 and comps["storage"]["ok"] is True
    assert comps["alerts"]["firing"] == 0
    assert {"last_success", "consecutive_failures", "last_error"} <= set(comps["source"])
    source.up.clear()
    status, body = wait_json(server, "/health", lambda s, b: s == 503)
    assert status == 503 and body["status"] == "down"
    assert "connection refused" in body["components"]["source"]["last_error"]
    source.up.set()
    status, body = wait_json(server, "/health", lambda s, b: s == 200 and b["status"] == "ok")
    assert status == 200 and body["components"]["source"]["consecutive_failures"] == 0


def test_liveness_and_readiness(serve):
    """/health/live is always 200; /health/ready is 503 until a fetch succeeded."""
    failing = Runtime(Settings({"source.interval": 0.1}), FailingSource("down"))
    server = serve(failing)
    assert server.json("/health/ready") == (503, {"status": "not ready", "reason": "not started"})
    failing.start()
    # Once the first fetch has failed the runtime is started but not ready.
    wait_until(lambda: failing.source_health.snapshot()["failures"] >= 1, within(0.1),
               "a first failed fetch")
    status, body = server.json("/health/ready")
    assert status == 503 and body["reason"] == "no successful fetch yet"
    assert server.json("/health/live")[0] == 200
    ok = Runtime(Settings({"source.interval": 0.1}), ListSource([[{"id": 1}]]))
    other = serve(started(ok))
    status, body = wait_json(other, "/health/ready", lambda s, b: s == 200)
    assert status == 200 and body["status"] == "ready"


def test_metrics_endpoint_parses(serve):
    """/metrics answers the Prometheus text format that prometheus_client's parser reads."""
    runtime = Runtime(Settings({"source.interval": 0.1}),
                      ListSource([[{"id": 1, "value": 2}]] * 3))
    server = serve(started(runtime))
    wait_json(server, "/health/ready", lambda s, b: s == 200)
    import requests

    r = requests.get(server.url + "/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    names = {f.name for f in text_string_to_metric_families(r.text)}
    assert {"streamdash_records_in", "streamdash_up", "streamdash_fetch_seconds"} <= names


BAD = ["/api/metrics?name=nope", "/api/metrics?since=yesterday", "/api/metrics?until=12:00",
       "/api/metrics?since=1h&until=2h", "/api/metrics?limit=abc", "/api/metrics?limit=0",
       "/api/metrics?limit=1000000", "/api/metrics?bogus=1", "/api/metrics?since=1h&since=2h",
       "/api/metrics?name=", "/api/errors?limit=-1", "/api/errors?name=x", "/api/dlq?since=",
       "/api/dlq?until=soon", "/api/alerts?state=burning", "/api/alerts?limit=99999",
       "/api/windows?key=", "/api/windows?key=a&key=b", "/api/dlq?key=a",
       "/api/windows?limit=0", "/api/late?limit=abc", "/api/late?limit=0",
       "/api/late?limit=10001", "/api/late?key=a", "/api/late?since=soon"]


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory):
    """One server over a runtime with persistence that is never started (for parameter checks)."""
    data = tmp_path_factory.mktemp("idle")
    server = Server(Runtime(Settings({"data_dir": str(data)}), ListSource([])))
    yield server
    server.close()


@pytest.mark.parametrize("path", BAD)
def test_every_bad_parameter_is_a_400_with_a_message(idle_server, path):
    """Bad parameters get HTTP 400 and a JSON message naming the parameter, never a 500."""
    status, body = idle_server.json(path)
    assert status == 400 and body["error"]
    param = path.split("?")[1].split("=")[0]
    assert param in body["error"] or "after until" in body["error"]


def test_query_results_match_what_was_recorded(serve, history_backend):
    """/api/metrics, /api/errors, /api/dlq and /api/alerts return exactly what was persisted,
    from either backend."""
    runtime = Runtime(Settings(history_backend.settings({**SETTINGS, "storage": {
        "snapshot_interval": 3600}})), ListSource([]))
    history = runtime.history
    history.start()
    t0 = float(int(time.time()) - 600)  # whole seconds: ISO times in the URL are exact
    for i in range(5):
        history.record_snapshot({"throughput_in": float(i), "queue_depth": i}, ts=t0 + i * 60)
    history.on_ingest_error({"ts": t0, "source": "api", "kind": "http", "reason": "HTTP 503",
                             "url": f"http://127.0.0.1:9/data?api_key={API_KEY}"})
    runtime.events.publish("rejections", [{"at": t0 + 1, "source": "api", "record": {"id": 7},
                                           "reasons": [{"field": "value", "rule": "type"}]}])
    runtime.events.publish("alert", {"name": "stale", "state": "firing", "severity": "critical",
                                     "at": utc_iso(t0 + 2)})
    runtime.events.publish("alert", {"name": "stale", "state": "resolved", "severity": "critical",
                                     "at": utc_iso(t0 + 3)})
    server = serve(runtime)
    deadline = time.monotonic() + 10
    while history.status()["written"] < 10 and time.monotonic() < deadline:
        time.sleep(0.02)
    status, body = server.json(f"/api/metrics?name=throughput_in&since={utc_iso(t0 + 60)}"
                               f"&until={utc_iso(t0 + 180)}")
    assert status == 200 and body["from"] == "history"
    assert [p["value"] for p in body["series"]["throughput_in"]] == [1.0, 2.0, 3.0]
    status, body = server.json("/api/metrics?name=queue_depth,throughput_in&since=15m&limit=2")
    assert [p["value"] for p in body["series"]["queue_depth"]] == [3, 4]
    status, text = server.get("/api/errors?since=1h")
    errors = json.loads(text)
    assert status == 200 and errors["count"] == 1 and errors["items"][0]["message"] == "HTTP 503"
    assert API_KEY not in text
    dlq = server.json("/api/dlq?since=1h")[1]
    assert dlq["count"] == 1 and dlq["items"][0]["record"] == {"id": 7}
    alerts = server.json("/api/alerts?since=1h")[1]
    assert [a["state"] for a in alerts["items"]] == ["resolved", "firing"]
    assert [a["state"] for a in server.json("/api/alerts?state=firing")[1]["items"]] == ["firing"]
    windows = [{"key": k, "start": "2024-06-01T00:00:00.000Z", "end": "2024-06-01T00:00:10.000Z",
                "count": 2, "mean": 1.5, "min": 1.0, "max": 2.0, "p95": 2.0,
                "closed_by": "watermark"} for k in ("s1", "s2")]
    runtime.events.publish("window", windows)
    deadline = time.monotonic() + 10
    while history.status()["written"] < 12 and time.monotonic() < deadline:
        time.sleep(0.02)
    got = server.json("/api/windows?since=1h")[1]
    assert got["count"] == 2 and {w["key"] for w in got["items"]} == {"s1", "s2"}
    assert all(w["end"] == "2024-06-01T00:00:10.000Z" and w["closed_at"] for w in got["items"])
    only = server.json("/api/windows?key=s2")[1]
    assert [w["key"] for w in only["items"]] == ["s2"] and only["items"][0]["mean"] == 1.5
    history.stop()


def test_api_serves_memory_views_without_storage(serve):
    """Without a data_dir the API answers from the in-memory snapshots and logs."""
    runtime = Runtime(Settings({"source.interval": 0.1, "storage": {"snapshot_interval": 0.1}}),
                      ListSource([[{"id": 1}], [{"value": 3}]]))
    server = serve(started(runtime))
    status, body = wait_json(server, "/api/metrics?name=records_in&since=1m",
                             lambda s, b: any(p["value"] for p in b["series"]["records_in"]))
    assert status == 200 and body["from"] == "memory"
    runtime.events.publish("ingest_error", {"ts": time.time(), "reason": "boom"})
    assert server.json("/api/errors")[1]["items"][0]["reason"] == "boom"
    assert server.json("/api/dlq")[0] == 200 and server.json("/api/alerts")[0] == 200
    runtime.events.publish("window", [{"key": "a", "count": 1}, {"key": "b", "count": 2}])
    body = server.json("/api/windows?key=b")[1]
    assert body["from"] == "memory" and body["items"] == [{"key": "b", "count": 2}]


def test_api_late_lists_late_records_newest_first_and_bounded(serve, tmp_path):
    """/api/late shows every record set aside as late (record, event time, watermark, how
    late), newest first, at most ``limit``, with the total ever set aside; also with storage."""
    interval = 0.1
    t0 = 1_764_198_000.0
    schema = {"key": "id", "event_time": "ts", "fields": {"id": "int", "ts": "timestamp"}}
    runtime = Runtime(Settings({"source.interval": interval, "data_dir": str(tmp_path),
                                "schema": schema}),
                      ListSource([[{"id": 1, "ts": t0}],
                                  [{"id": 2, "ts": t0 - 100}, {"id": 3, "ts": t0 - 200}]]))
    server = serve(started(runtime))
    status, body = wait_json(server, "/api/late", lambda s, b: b.get("count") == 2,
                             timeout=within(interval, interval))  # two polls
    assert status == 200 and body["from"] == "memory" and body["total"] == 2
    assert [i["record"]["id"] for i in body["items"]] == [3, 2]
    first = body["items"][1]
    assert first["event_time"] == utc_iso(t0 - 100) and first["watermark"] == utc_iso(t0 - 30)
    assert first["lateness_s"] == 70.0 and first["source"] == "list" and first["at"]
    limited = server.json("/api/late?limit=1")[1]
    assert limited["count"] == 1 and limited["items"][0]["record"]["id"] == 3
    assert server.json("/api/late?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z"
                       )[1]["items"] == []


def test_no_output_carries_a_configured_secret(serve, tmp_path):
    """/health, /metrics and the API never show the API key or header value, even when echoed."""
    runtime = Runtime(Settings({**SETTINGS, "data_dir": str(tmp_path)}), SwitchSource())
    server = serve(started(runtime))
    wait_json(server, "/health/ready", lambda s, b: s == 200)
    runtime.events.publish("ingest_error", {"reason": f"401 with api_key={API_KEY}"})
    runtime.events.publish("rejections", [{"record": {"note": API_KEY}, "reasons": []}])
    # Both events are in the store once the history writer has flushed them (it takes what is
    # queued every 0.2 s, History._run).
    wait_until(lambda: "401 with api_key" in server.get("/api/errors")[1]
               and '"note"' in server.get("/api/dlq")[1], within(0.2), "the events persisted")
    for path in ("/health", "/metrics", "/api/errors", "/api/dlq", "/api/metrics?since=1m"):
        status, text = server.get(path)
        assert status == 200, path
        assert API_KEY not in text and "HEADER-TOKEN-999" not in text, path
    assert "***" in server.get("/api/errors")[1]


def test_storage_problem_shows_in_health(serve, tmp_path):
    """A store that cannot write makes /health degraded (200) with the error; ingestion goes on."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    runtime = Runtime(Settings({"source.interval": 0.1, "data_dir": str(blocker / "sub")}),
                      ListSource([[{"id": 1}]], loop=True))
    server = serve(started(runtime))
    status, body = wait_json(server, "/health", lambda s, b: b["status"] == "degraded")
    assert status == 200 and body["status"] == "degraded"
    assert body["components"]["storage"]["ok"] is False
    assert body["components"]["storage"]["error"]
    seen = runtime.counts()["in"]
    wait_json(server, "/health", lambda s, b: runtime.counts()["in"] > seen)
    assert runtime.counts()["in"] > seen  # the pipeline runs on without its store
    status, body = server.json("/api/metrics")
    assert status == 503 and "unavailable" in body["error"]


def always(severity):
    """A rule that fires at the first evaluation (records in the window is always >= 0)."""
    return {"name": f"always_{severity}", "metric": "records", "op": ">=", "threshold": 0,
            "severity": severity, "summary": f"{severity} test alert"}


@pytest.mark.parametrize("rules, state, code, ready", [
    ([], "ok", 200, 200),
    ([always("warning")], "degraded", 200, 200),
    ([always("info"), always("critical")], "down", 503, 503)])
def test_health_follows_the_status_policy(serve, rules, state, code, ready):
    """/health is 200 ok with no alert firing, 200 degraded with a warning firing and 503 down
    with a critical one (naming the alerts); /health/ready is 503 while down."""
    interval, tick = 0.1, 0.05
    settings = Settings({"source.interval": interval,
                         "alerts": {"interval": tick, "rules": rules}})
    runtime = Runtime(settings, SwitchSource())
    server = serve(started(runtime))
    wait_json(server, "/health/ready", lambda s, b: "no successful fetch" not in str(b),
              within(interval))
    # The rules fire at the first evaluation after the first fetch.
    status, body = wait_json(server, "/health", lambda s, b: b["status"] == state
                             and len(b["firing"]) == len(rules), within(interval, tick))
    assert (status, body["status"]) == (code, state)
    assert sorted(body["firing"]) == sorted(r["name"] for r in rules)
    assert all(any(r["name"] in line for line in body["reasons"]) for r in rules)
    if rules:
        assert body["reasons"][0].startswith(f"always_{'critical' if code == 503 else 'warning'}")
    status, answer = server.json("/health/ready")
    assert status == ready and answer["health"] == state
