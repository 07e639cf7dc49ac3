"""The dedup rule on its own."""

from __future__ import annotations

from streamdash.pipeline.rules import BatchContext, Dedup

from .harness import run


def test_dedup_keeps_the_first_and_counts_repeats():
    """Repeated keys (also within one batch) are dropped and counted; keyless records pass."""
    d = Dedup("id")
    recs = [{"id": "a"}, {"id": "b"}, {"id": "a"}, {}, {"id": None}]
    out, times, counts = run(d, recs, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert out == [{"id": "a"}, {"id": "b"}, {}, {"id": None}] and times == [1.0, 2.0, 4.0, 5.0]
    assert counts["duplicate"] == 1
    out, _, counts = run(d, [{"id": "b"}, {"id": "c"}], [6.0, 7.0])
    assert out == [{"id": "c"}] and counts["duplicate"] == 1
    assert d.stats() == {"duplicates": 2, "keys": 3, "evicted": 0}


def test_dedup_on_several_fields_keeps_each_version_of_a_record():
    """With key (id, updated) a record whose updated time changed is kept again; a missing or
    null first field makes the record keyless (never a duplicate)."""
    d = Dedup(("id", "updated"))
    recs = [{"id": "q1", "updated": 1}, {"id": "q1", "updated": 1}, {"id": "q1", "updated": 2},
            {"id": "q1"}, {"id": "q1", "updated": None}, {"id": None, "updated": 1},
            {"id": None, "updated": 1}]
    out, _, counts = run(d, [dict(r) for r in recs], [float(i) for i in range(7)])
    assert out == [recs[0], recs[2], recs[3], recs[5], recs[6]] and counts["duplicate"] == 2
    assert Dedup(("id",)).key == "id"


def test_dedup_forgets_keys_after_the_ttl_of_event_time():
    """Keys older than the TTL (in event time) expire, so memory stays bounded."""
    d = Dedup("id", ttl=600)
    run(d, [{"id": "old"}], [1000.0])
    run(d, [{"id": "x"}], [1500.0])
    assert "old" in d.seen
    run(d, [{"id": "y"}], [1700.0])       # 1000 < 1700 - 600: the first batch expires
    assert "old" not in d.seen
    out, _, counts = run(d, [{"id": "old"}], [1701.0])
    assert out and counts["duplicate"] == 0


def test_dedup_hard_cap_evicts_oldest_keys():
    """max_keys caps memory even within the TTL; keys forgotten early are counted."""
    d = Dedup("id", ttl=10_000, max_keys=3)
    for i in range(5):
        run(d, [{"id": i}], [float(i)])
    assert len(d.seen) <= 3 and d.evicted >= 2


def test_dedup_without_event_time_uses_the_clock():
    """Without event times the TTL runs on the injected processing clock."""
    now = [0.0]
    d = Dedup("id", ttl=10, clock=lambda: now[0])
    d([{"id": 1}], [None], BatchContext())
    now[0] = 100.0
    d([{"id": 2}], [None], BatchContext())
    assert 1 not in d.seen
