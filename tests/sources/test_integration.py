"""Sources inside a real Runtime: ≥1,000 records end to end, error-log wiring and health."""

from __future__ import annotations

import time

from streamdash.config import Settings
from streamdash.runtime import Runtime
from tests.helpers import wait_for, within
from tests.httpserver import Reply, json_reply

PAGES, PER_PAGE = 8, 150




def http_settings(url: str, **extra) -> Settings:
    return Settings({"source": {"type": "http", "name": "api", "url": url,
                                "records_path": "data.items", "interval": 0.1,
                                "fields": {"id": "id:int", "value": "reading:float",
                                           "ts": "at:timestamp_ms"},
                                "backoff_base": 0.001, "backoff_max": 0.005, **extra},
                     "buffer": {"capacity": 5000}})


def page(n: int) -> dict:
    items = [{"id": n * PER_PAGE + i, "reading": str(i / 10), "at": 1_700_000_000_000 + i}
             for i in range(PER_PAGE)]
    return {"data": {"items": items}}


def test_http_source_ingests_1200_records_into_the_ring_buffer_exactly(server):
    """1,200 records over HTTP (a 500 retried midway) all reach the buffer, counted exactly."""
    replies = [json_reply(page(n)) for n in range(PAGES)]
    replies.insert(3, Reply(500, b"transient"))
    server.route("/feed", *replies, then=json_reply({"data": {"items": []}}))
    rt = Runtime(http_settings(server.url("/feed")))
    with rt:
        assert wait_for(lambda: rt.counts()["accepted"] >= PAGES * PER_PAGE, timeout=20)
        assert wait_for(lambda: len(server.hits("/feed")) > PAGES + 2, timeout=20)
    total = PAGES * PER_PAGE
    counts = rt.counts()
    assert counts["in"] == counts["accepted"] == total
    assert sum(v for k, v in counts.items() if k not in ("in", "accepted")) == 0
    records = [r for _, r in rt.buffer.snapshot()]
    assert [r["id"] for r in records] == list(range(total))
    assert records[1] == {"id": 1, "value": 0.1, "ts": "2023-11-14T22:13:20.001Z"}
    assert rt.metrics.snapshot()["counters"].get("fetch_errors", 0) == 0
    errors = rt.ingest_errors.recent()
    assert len(errors) == 1 and errors[0]["kind"] == "server_error"
    assert errors[0]["source"] == "api" and errors[0]["status"] == 500


def test_failing_api_is_reported_in_health_without_secrets(server):
    """A failing source shows consecutive failures and its last error; no secret leaks."""
    server.route("/feed", Reply(503, b"down for maintenance"))
    settings = http_settings(server.url("/feed"), max_tries=2,
                             headers={"X-Api-Key": "very-secret-key-1"},
                             params={"token": "very-secret-token-2"})
    rt = Runtime(settings)
    with rt:
        assert wait_for(lambda: rt.source_health.snapshot()["consecutive_failures"] >= 3,
                        timeout=20)
        health = rt.health()
    source = health["components"]["source"]
    assert health["status"] == "down"
    assert "HTTP 503" in source["last_error"] and source["last_success"] is None
    assert rt.ingest_errors.total >= 6
    text = repr(health) + repr(rt.ingest_errors.recent())
    assert "very-secret-key-1" not in text and "very-secret-token-2" not in text
    assert source["headers"] == {"X-Api-Key": "***"} and "token=***" in source["url"]


def test_preset_min_interval_raises_a_shorter_configured_interval():
    """A preset's minimum interval (the API's rate limit) wins over a shorter configured one,
    for the producer and for the alert rules that judge freshness."""
    rt = Runtime(Settings({"source": {"type": "usgs-earthquakes", "interval": 5}}))
    assert rt.producer.current_interval() == rt.fetch_interval() == 60.0
    rt.monitor.evaluate()
    assert {r.name: r.threshold for r in rt.monitor.rule_list}["source_down"] == 180.0
    rt.source.close()
    rt2 = Runtime(Settings({"source": {"type": "coinbase-spot", "interval": 5}}))
    assert rt2.producer.current_interval() == 5.0
    rt2.source.close()


def test_stop_interrupts_a_long_retry_wait(server):
    """Stopping the runtime while the source waits out a Retry-After returns within seconds."""
    server.route("/feed", Reply(503, headers={"Retry-After": "25"}))
    rt = Runtime(http_settings(server.url("/feed"), max_time=60))
    rt.start()
    assert wait_for(lambda: rt.ingest_errors.total >= 1, timeout=20)
    rt.stop(timeout=0.5)
    # Without the interrupt the producer would still sleep in its 25 s wait after stop's join.
    assert not rt.producer.alive


def test_sse_stream_flows_through_the_runtime_exactly(server):
    """500 streamed events reach the ring buffer exactly once, in order, via the reader thread."""
    body = b"".join(f"id: {i}\ndata: {{\"id\": {i}, \"v\": {i % 7}}}\n\n".encode()
                    for i in range(500))
    server.route("/events", Reply(200, headers={"Content-Type": "text/event-stream"},
                                  chunks=[(body[i:i + 997], 0) for i in range(0, len(body), 997)],
                                  hold=True))
    rt = Runtime(Settings({"source": {"type": "sse", "url": server.url("/events"),
                                      "interval": 0.1, "batch_size": 120}}))
    with rt:
        assert wait_for(lambda: rt.counts()["accepted"] >= 500, timeout=20)
    assert rt.counts()["in"] == rt.counts()["accepted"] == 500
    assert [r["id"] for _, r in rt.buffer.snapshot()] == list(range(500))
    assert not rt.source.alive and rt.source.stats["dropped"] == 0


def test_retry_after_inf_is_capped_and_the_wait_shows_as_not_fresh(server):
    """A 429 with Retry-After: inf pauses polling only max_retry_after; meanwhile the skipped
    polls are failures (no last_success, /health not ok), then records flow again."""
    server.route("/feed", Reply(429, headers={"Retry-After": "inf"}),
                 then=json_reply(page(0)))
    cap = 1.0
    rt = Runtime(http_settings(server.url("/feed"), max_time=0.2, max_retry_after=cap))
    interval = rt.fetch_interval()
    with rt:
        assert wait_for(lambda: rt.source_health.snapshot()["consecutive_failures"] >= 2,
                        timeout=cap)
        health = rt.health()
        source = health["components"]["source"]
        assert health["status"] != "ok" and source["last_success"] is None
        assert "rate limited" in source["last_error"] and source["stats"]["skipped_rate_limited"]
        # Polling resumes once the capped wait is over (a few intervals of slack).
        assert wait_for(lambda: rt.counts()["accepted"] == PER_PAGE, timeout=cap + 20 * interval)
        # source_down (critical) fired during the pause; the monitor's next evaluation (every
        # alerts.interval, 1 s by default) resolves it and the status is ok again.
        assert wait_for(lambda: rt.health()["status"] == "ok", timeout=within(1.0))
    assert len(server.hits("/feed")) >= 2


def test_stop_interrupts_a_trickling_fetch_within_the_drain_bound(server):
    """runtime.stop() returns within its drain bound while a 1 MB body trickles in (1 byte per
    2 s, past no read timeout), well inside gunicorn's 9 s graceful timeout."""
    length = 1024 * 1024
    server.route("/feed", Reply(200, headers={"Content-Length": str(length)},
                                chunks=[(b" ", 2.0)] * 10))
    drain = 0.5
    rt = Runtime(http_settings(server.url("/feed"), total_timeout=3600, read_timeout=60))
    rt.start()
    assert wait_for(lambda: rt.source._watchdog._sock is not None, timeout=10)
    began = time.monotonic()
    rt.stop(timeout=drain)
    took = time.monotonic() - began
    assert not rt.producer.alive
    assert took < drain + 2.0, f"stop took {took:.1f} s"
