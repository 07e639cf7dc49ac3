"""The quarantine (dead-letter queue): bounded store, counts by reason, publishing, export."""

from __future__ import annotations

import io
import json
import math

from streamdash.events import EventBus
from streamdash.models import Rejection
from streamdash.store.quarantine import Quarantine, reason_key, write_jsonl


def rej(i, field="v", rule="type", source="s"):
    return Rejection({"i": i}, [{"field": field, "rule": rule, "value": repr(i)}], source, 1.0)


def test_bounded_store_keeps_counting():
    """Only the newest `capacity` are held, newest first; every one stays counted (in total and
    by source); reasons are counted among those held."""
    q = Quarantine(capacity=3)
    q.add_many(rej(i) for i in range(5))
    q.add_many([rej(9, "ts", "timestamp", "other")])
    assert q.total == 6 and [r.record["i"] for r in q.recent()] == [9, 4, 3]
    assert q.by_reason() == {"v:type": 2, "ts:timestamp": 1}
    assert q.by_source() == {"s": 5, "other": 1}
    assert q.to_dicts(1)[0]["at"] == "1970-01-01T00:00:01.000Z"
    assert reason_key({"field": None, "rule": "json"}) == "record:json"


def test_rejections_are_published_for_persistence():
    """With an event bus, each batch of rejections is published on 'rejections' (Rejection
    objects, JSON-ready through to_dict)."""
    bus = EventBus()
    got = []
    bus.subscribe("rejections", got.append)
    q = Quarantine(events=bus)
    q.add_many([rej(1), rej(2)])
    q.add_many([])
    assert len(got) == 1 and [r.to_dict()["record"]["i"] for r in got[0]] == [1, 2]
    assert got[0][0].to_dict()["reasons"][0]["rule"] == "type"


def test_reasons_are_found_only_when_read():
    """A lazily explained rejection costs nothing until its reasons are read, then keeps them."""
    calls = []

    def explain(record):
        calls.append(record)
        return [{"field": "v", "rule": "type", "value": "'x'"}]
    q = Quarantine(capacity=2)
    q.add_many([Rejection({"v": "x"}, None, "s", 1.0, explain=explain) for _ in range(5)])
    assert calls == [] and q.total == 5
    assert q.by_reason() == {"v:type": 2} and len(calls) == 2
    assert q.to_dicts()[0]["reasons"][0]["rule"] == "type" and len(calls) == 2


def test_write_jsonl_survives_values_json_cannot_hold():
    """Export writes one JSON object per line, even for NaN or bytes inside records."""
    out = io.BytesIO()
    items = [Rejection({"v": math.nan, "b": b"x"}, [], "s", 0.0).to_dict(), rej(1).to_dict()]
    assert write_jsonl(items, out) == 2
    lines = out.getvalue().decode().splitlines()
    assert [json.loads(line)["source"] for line in lines] == ["s", "s"]
