"""Tests for the API over several streams in one app: ?stream= on every /api/* route,
/api/streams, /health over every stream, the stream label on /metrics, hostile names."""

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from streamdash.app import create_app
from streamdash.config import Settings
from streamdash.runtime import Runtime
from streamdash.server.routes import register_routes
from streamdash.server.streams import MAX_NAMES_SHOWN
from streamdash.state import MemoryStream
from streamdash.testing import ListSource
from tests.helpers import wait_until, within
from tests.test_streams import INTERVAL, OUTCOMES, settled, two_streams


@pytest.fixture(scope="module")
def app():
    """Both streams ingested to the end (40 quakes records, 25 prices records, all invalid)."""
    settings = two_streams(alerts={"rules": [{"name": "source_down", "enabled": False}]})
    app = create_app(settings)
    done = {"quakes": 40, "prices": 25}
    wait_until(lambda: all(settled(app.runtimes[n], c) for n, c in done.items()),
               within(INTERVAL * 5), "both streams' records")
    yield app
    app.runtimes.stop()


@pytest.fixture
def client(app):
    return app.server.test_client()


def test_each_stream_parameter_answers_with_that_streams_data(client):
    """?stream= picks the stream on every /api/* route; no parameter is the first stream."""
    quakes = client.get("/api/dlq").get_json()
    prices = client.get("/api/dlq?stream=prices").get_json()
    assert quakes["stream"] == "quakes" and quakes["total"] == 0 and quakes["items"] == []
    assert prices["stream"] == "prices" and prices["total"] == 25 and prices["count"] == 25
    assert client.get("/api/dlq?stream=quakes").get_json()["total"] == 0
    for path in ("/api/metrics", "/api/errors", "/api/late", "/api/windows", "/api/alerts"):
        for name in ("quakes", "prices"):
            answer = client.get(f"{path}?stream={name}&since=1h")
            assert answer.status_code == 200 and answer.get_json()["stream"] == name, path
    for path in ("/api/alerts/active", "/api/alerts/rules", "/api/quality"):
        assert client.get(f"{path}?stream=prices").status_code == 200, path


def test_the_accounting_identity_holds_per_stream(client, app):
    """For each stream, records in = the sum of its outcomes, on /metrics (stream label) and
    on /api/streams, and they match the stream's own runtime."""
    families = {f.name: f for f in text_string_to_metric_families(
        client.get("/metrics").get_data(as_text=True))}

    def sample(name, stream):
        family = families.get(f"streamdash_{name}")  # a counter never added to: absent
        found = [s.value for s in family.samples if s.name == f"streamdash_{name}_total"
                 and s.labels.get("stream") == stream] if family is not None else []
        return found[0] if found else 0.0
    lines = {line["name"]: line for line in client.get("/api/streams").get_json()["streams"]}
    for name, records in (("quakes", 40), ("prices", 25)):
        counts = app.runtimes[name].counts()
        assert sample("records_in", name) == records == counts["in"] == lines[name]["records_in"]
        assert sum(sample(f"records_{o}", name) for o in OUTCOMES) == records
        assert sum(counts[o] for o in OUTCOMES) == counts["in"]
    assert sample("records_rejected", "prices") == 25 and sample("records_accepted", "quakes") \
        == 40


def test_api_streams_lists_one_status_line_per_stream(client):
    """/api/streams: the default, and per stream its source, records/s, last update, health
    and active alerts; ?stream= narrows it to one."""
    body = client.get("/api/streams").get_json()
    assert body["default"] == "quakes" and body["count"] == 2
    assert [s["name"] for s in body["streams"]] == ["quakes", "prices"]
    quakes = body["streams"][0]
    assert quakes["title"] == "Quakes" and quakes["kind"] == "simulated"
    assert quakes["status"] in ("ok", "degraded") and quakes["active_alerts"] >= 0
    assert quakes["last_update"] is not None and "rate" in quakes
    one = client.get("/api/streams?stream=prices").get_json()
    assert [s["name"] for s in one["streams"]] == ["prices"]
    assert client.get("/api/streams?nope=1").status_code == 400


@pytest.mark.parametrize(("query", "status", "problem"), [
    ("stream=nope", 404, "unknown stream 'nope' (streams: quakes, prices)"),
    ("stream=" + "x" * 5000, 400, "at most 32 characters, got 5000"),
    ("stream=quakes&stream=prices", 400, "give it once"),
    ("stream=%3Cscript%3E", 404, "unknown stream '<script>'"),
    ("stream=", 404, "unknown stream ''"),
])
def test_a_bad_stream_name_is_a_json_error_naming_the_streams(client, query, status, problem):
    """Unknown → 404, over-long or repeated → 400, as JSON naming the streams there are (the
    name is never echoed past its bound)."""
    for path in ("/api/metrics", "/api/dlq", "/api/alerts/rules", "/api/streams"):
        answer = client.get(f"{path}?{query}")
        assert answer.status_code == status and answer.mimetype == "application/json", path
        body = answer.get_json()
        assert problem in body["error"] and body["streams"] == ["quakes", "prices"]
        assert len(answer.get_data()) < 1000


def test_the_list_of_streams_in_an_error_is_bounded():
    """With more streams than MAX_NAMES_SHOWN the answer lists that many and counts all."""
    server = Flask("many")
    names = [f"s{i:02d}" for i in range(MAX_NAMES_SHOWN + 5)]
    register_routes(server, {n: MemoryStream(Runtime(Settings(), ListSource([])), n)
                             for n in names})
    body = server.test_client().get("/api/dlq?stream=zz").get_json()
    assert body["streams"] == names[:MAX_NAMES_SHOWN] and body["streams_count"] == len(names)
    assert body["error"].endswith("s19 …)")


def test_health_covers_every_stream_and_names_the_one_that_is_down():
    """/health: 503 when any stream is down, the stream named in the reasons and in 'down';
    /health/ready likewise."""
    app = create_app(two_streams(alerts={"rules": [{"name": "source_down", "enabled": False}]}),
                     start=False)
    client = app.server.test_client()
    try:
        app.runtimes["quakes"].start()  # prices never starts: down
        wait_until(lambda: app.runtimes["quakes"].counts()["in"] > 0, within(INTERVAL),
                   "the first fetch")
        answer = client.get("/health")
        body = answer.get_json()
        assert answer.status_code == 503 and body["status"] == "down" and body["down"] == \
            ["prices"]
        assert any(r.startswith("stream 'prices': ") for r in body["reasons"])
        assert body["streams"]["quakes"]["status"] != "down"
        ready = client.get("/health/ready")
        assert ready.status_code == 503 and "stream 'prices'" in ready.get_json()["reason"]
        app.runtimes["prices"].start()
        wait_until(lambda: client.get("/health").status_code == 200, within(INTERVAL),
                   "every stream up")
    finally:
        app.runtimes.stop()


def test_one_stream_keeps_todays_health_answer_and_a_stream_label():
    """A config without streams answers /health as before (no 'streams' key) and labels its
    metrics stream="default"."""
    app = create_app(Settings(), ListSource([[{"id": 1, "value": 1.0}]]), start=False)
    client = app.server.test_client()
    body = client.get("/health").get_json()
    assert "streams" not in body and "components" in body
    text = client.get("/metrics").get_data(as_text=True)
    assert 'streamdash_up{stream="default"}' in text
    assert client.get("/api/dlq?stream=default").status_code == 200
    assert client.get("/api/dlq?stream=other").status_code == 404
    app.runtimes.close()
