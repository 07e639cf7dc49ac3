"""The dedup rule on its own."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamdash.pipeline.rules import BatchContext, Dedup

from .harness import restored, run, through_json


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


KEYS = st.one_of(st.integers(0, 12), st.sampled_from(["a", "b", "c", "ab"]))
BATCHES = st.lists(st.lists(st.tuples(KEYS, st.one_of(st.none(), st.integers(0, 2)),
                                      st.floats(0, 100)), max_size=8), max_size=8)


@settings(max_examples=150, deadline=None)
@given(BATCHES, st.integers(0, 8), st.sampled_from(["id", ("id", "v")]), st.integers(1, 20),
       st.booleans())
def test_a_restored_dedup_decides_every_later_batch_as_the_original(batches, split, key,
                                                                    max_keys, clocked):
    """restore(export(d)) through JSON drops and keeps exactly what d does on every later
    batch (one or several key fields, the TTL and max_keys expiring keys, event or
    processing time)."""
    now = [0.0]  # processing time, the same for both rules at each batch

    def make():
        return Dedup(key, ttl=30, max_keys=max_keys, clock=(lambda: now[0]) if clocked else None)

    def feed(rule, batch):
        recs = [{"id": k, "v": v} for k, v, _ in batch]
        return run(rule, recs, [None if clocked else t for _, _, t in batch])

    original = make()
    for i, batch in enumerate(batches[:split]):
        now[0] = 7.0 * i
        feed(original, batch)
    copy = restored(make, original)
    assert copy.seen == original.seen and copy.newest == original.newest
    for i, batch in enumerate(batches[split:], start=split):
        now[0] = 7.0 * i
        assert feed(copy, batch) == feed(original, batch)
    assert copy.seen == original.seen


def test_a_dedup_refuses_state_it_cannot_use_and_stays_as_it_was():
    """Another key, a bad shape or an unhashable key: ValueError naming it, nothing changed."""
    d = Dedup("id")
    run(d, [{"id": "a"}], [1.0])
    good = through_json(d.export_state())
    hostile = [{**good, "key": ["other"]}, {**good, "generations": "x"},
               {**good, "generations": [[1.0]]}, {**good, "generations": [[1.0, [["a"]]]]},
               {**good, "generations": [["t", ["a"]]]}, {**good, "newest": "soon"},
               {**good, "generations": [[1.0, [None]]]}]
    for state in hostile:
        with pytest.raises(ValueError, match="dedup"):
            d.restore_state(state)
        assert d.seen == {"a"}
    two = Dedup(("id", "v"))
    with pytest.raises(ValueError, match="2 fields"):
        two.restore_state({"key": ["id", "v"], "newest": 1.0,
                           "generations": [[1.0, [[None, 1]]]]})


def test_a_restored_dedup_keeps_its_own_max_keys():
    """State saved under a larger max_keys is cut to this rule's bound, oldest first."""
    d = Dedup("id", max_keys=100)
    for i in range(10):
        run(d, [{"id": i}], [float(i)])
    small = restored(lambda: Dedup("id", max_keys=4), d)
    assert small.seen == {6, 7, 8, 9} and small.evicted == 6


class OneSet:
    """The dedup semantics with every remembered key in one plain set (the reference)."""

    def __init__(self, ttl, max_keys):
        self.ttl, self.max_keys, self.seen, self.gens, self.newest = ttl, max_keys, set(), [], None

    def batch(self, keys, times):
        out, fresh = [], []
        for k in keys:
            if k in self.seen:
                continue
            self.seen.add(k)
            fresh.append(k)
            out.append(k)
        newest = max(times) if self.newest is None else max(self.newest, max(times))
        self.newest = newest
        if fresh:
            self.gens.append((max(times), fresh))
        while self.gens and (self.gens[0][0] < newest - self.ttl or len(self.seen) > self.max_keys):
            self.seen.difference_update(self.gens.pop(0)[1])
        return out


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(0, 40), max_size=12),
                          st.floats(0, 30, allow_nan=False)), max_size=40),
       st.sampled_from([5.0, 20.0, 1e9]), st.sampled_from([4, 15, 1_000_000]))
def test_young_and_old_sets_decide_as_one_set(batches, ttl, max_keys):
    """The two sets (new keys into one, the oldest generations drained from the other) keep
    and drop exactly the records one set of every remembered key would, batch after batch,
    with expiry by TTL and by max_keys; the remembered keys are the same too."""
    d, ref, clock = Dedup("id", ttl=ttl, max_keys=max_keys), OneSet(ttl, max_keys), 0.0
    for keys, step in batches:
        clock += step
        times = [clock - (i % 3) for i in range(len(keys))]
        out, _, _ = run(d, [{"id": k} for k in keys], times)
        if keys:
            assert [r["id"] for r in out] == ref.batch(keys, times)
        assert d.seen == ref.seen and d.stats()["keys"] == len(ref.seen)
