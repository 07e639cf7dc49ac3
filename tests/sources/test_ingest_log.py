"""The ingestion error log: event shape, levels, listeners, event-bus binding, redaction."""

from __future__ import annotations

import logging

from streamdash.events import EventBus
from streamdash.sources.ingest_log import IngestLog
from streamdash.sources.redact import Redactor
from streamdash.store.recent import RecentLog


def test_event_shape_levels_and_counts(caplog):
    """Each report is a full event, WARNING while retrying and ERROR when giving up."""
    log = IngestLog("api", clock=lambda: 1_700_000_000.0, redactor=Redactor(["s3cr3t-key"]))
    seen: list = []
    log.add_listener(seen.append)
    with caplog.at_level(logging.WARNING, "streamdash"):
        log.report("server_error", "HTTP 503 key=s3cr3t-key", url="http://h/x?token=abc",
                   status=503, attempt=1, next_delay=0.12345)
        log.report("server_error", "HTTP 503", url="http://h/x", status=503, attempt=2)
    assert seen[0] == {"at": "2023-11-14T22:13:20.000Z", "source": "api",
                       "url": "http://h/x?token=***", "kind": "server_error",
                       "reason": "HTTP 503 key=***", "status": 503, "attempt": 1,
                       "next_delay": 0.123}
    assert seen[1]["next_delay"] is None
    assert [r.levelname for r in caplog.records] == ["WARNING", "ERROR"]
    assert "s3cr3t-key" not in caplog.text
    snap = log.snapshot()
    assert snap["total"] == 2 and snap["by_kind"] == {"server_error": 2}
    assert snap["last"]["attempt"] == 2


def test_bound_bus_feeds_the_recent_log_and_bad_listeners_are_contained():
    """With bind(bus) events reach ingest_error subscribers; a failing listener stops nothing."""
    bus, recent = EventBus(), RecentLog(10)
    bus.subscribe("ingest_error", recent.extend_from)
    log = IngestLog("api")
    log.add_listener(lambda e: 1 / 0)
    log.bind(bus)
    log.report("timeout", "timed out", attempt=1, next_delay=1.0)
    assert recent.total == 1 and recent.recent()[0]["kind"] == "timeout"
