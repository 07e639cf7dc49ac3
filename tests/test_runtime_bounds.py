"""Issue 13, case 1 on loopback: invalid-heavy HTTP responses cannot grow the queue past its
record and byte bounds, and /health says degraded while the queue is over 80 % full."""

from __future__ import annotations

import threading

import orjson
import pytest

from streamdash.config import Settings
from streamdash.runtime import Runtime
from streamdash.status import QUEUE_FILL_LIMIT
from tests.helpers import wait_for, wait_until
from tests.httpserver import Reply, ScriptedServer

PER_RESPONSE = 20_000
MAX_RECORDS, MAX_BATCH = 10_000, 1_000


@pytest.fixture
def server():
    """A scripted HTTP server on 127.0.0.1 playing the hostile upstream."""
    with ScriptedServer() as srv:
        yield srv


class Gate:
    """A processor that waits for ``open`` before each batch: a consumer slower than the
    source, so the queue fills the way a flood of invalid records filled it."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.open = threading.Event()

    def process(self, records, batch):
        self.open.wait(30)
        return self.inner.process(records, batch)


def hostile_settings(url: str) -> Settings:
    return Settings({"source": {"type": "http", "url": url, "records_path": "items",
                                "interval": 0.1, "fields": {"id": "id", "value": "v"}},
                     "schema": {"fields": {"id": "int", "value": "float"}},
                     "transforms": [],
                     "queue": {"maxsize": 1000, "max_records": MAX_RECORDS,
                               "max_batch_records": MAX_BATCH}})


def test_invalid_heavy_responses_fill_the_queue_only_to_its_record_bound(server):
    """Responses of 20k invalid objects are split into 1k batches; the queue stops at 10k
    records (the producer waits, counted by limit), /health is degraded while it is over
    80 % full, and once the consumer catches up every record is accounted for as rejected."""
    body = orjson.dumps({"items": [{"id": "not a number", "v": "x"}] * PER_RESPONSE})
    server.route("/flood", Reply(200, body, {"Content-Type": "application/json"}))
    # No alert rules: the producer waiting on the full queue makes no fetch for longer than
    # source_down's 3 intervals (0.3 s), a critical alert (status down) as soon as the machine
    # is slow enough; this test is about the queue's part of /health.
    rt = Runtime(hostile_settings(server.url("/flood")).with_overrides({"alerts.enabled": False}))
    gate = Gate(rt.consumer.processor)
    rt.consumer.processor = gate
    peak = []

    def full() -> bool:
        stats = rt.queue.stats()
        peak.append(stats["records"])
        return rt.metrics.counter("queue_full_records") > 0

    with rt:
        wait_until(full, timeout=20, what="the producer blocked on the record bound")
        health = rt.health()
        queue = health["components"]["queue"]
        assert health["status"] == "degraded" and queue["fill"] > QUEUE_FILL_LIMIT
        assert queue["records"] <= MAX_RECORDS and queue["full"]["records"] > 0
        assert queue["depth"] <= MAX_RECORDS // MAX_BATCH
        gate.open.set()
        wait_until(lambda: rt.counts()["rejected"] >= 2 * PER_RESPONSE, timeout=60,
                   what="two responses rejected")
    assert max(peak) <= MAX_RECORDS
    counts = rt.counts()
    assert counts["in"] == counts["rejected"] + counts["dropped"] and counts["accepted"] == 0
    assert wait_for(lambda: rt.quarantine.total == counts["rejected"], timeout=1)
    assert rt.quarantine.recent(1)[0].reasons[0]["rule"] == "type"
