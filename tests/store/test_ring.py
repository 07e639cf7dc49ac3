"""Tests for streamdash.store.ring.RingBuffer."""

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamdash.store.ring import RingBuffer


def test_keeps_newest_records_up_to_capacity():
    """After more appends than capacity, only the newest `capacity` records remain, in order."""
    ring = RingBuffer(3)
    for i in range(5):
        ring.append({"i": i})
    assert len(ring) == 3
    assert ring.last_seq == 5
    assert [(s, r["i"]) for s, r in ring.snapshot()] == [(3, 2), (4, 3), (5, 4)]


def test_after_returns_only_newer_records():
    """after(seq) returns exactly the records with a larger sequence number."""
    ring = RingBuffer(10)
    ring.extend({"i": i} for i in range(6))
    assert [s for s, _ in ring.after(4)] == [5, 6]
    assert ring.after(6) == []
    assert [s for s, _ in ring.after(0, limit=2)] == [5, 6]


def test_after_with_overwritten_seq_returns_what_is_held():
    """A reader far behind gets every record still held, not a gap or an error."""
    ring = RingBuffer(4)
    ring.extend({"i": i} for i in range(10))
    assert [s for s, _ in ring.after(1)] == [7, 8, 9, 10]


def test_seq_ahead_of_buffer_yields_nothing():
    """A reader whose seq is ahead (server restarted) gets nothing and can compare last_seq."""
    ring = RingBuffer(4)
    ring.append({"i": 1})
    assert ring.after(99) == []
    assert ring.last_seq == 1


def test_readers_get_copies():
    """Mutating what a reader got does not change the stored record."""
    ring = RingBuffer(4)
    ring.append({"v": 1})
    _, rec = ring.latest()
    rec["v"] = 99
    assert ring.latest()[1]["v"] == 1


def test_empty_buffer():
    """An empty buffer has no latest record and seq 0."""
    ring = RingBuffer(2)
    assert ring.latest() is None and ring.last_seq == 0 and ring.snapshot() == []
    with pytest.raises(ValueError):
        RingBuffer(0)


@settings(max_examples=60, deadline=None)
@given(capacity=st.integers(1, 20), sizes=st.lists(st.integers(0, 30), max_size=15))
def test_matches_a_simple_model(capacity, sizes):
    """Any sequence of extends matches a list-based model of the newest `capacity` items."""
    ring, model, n = RingBuffer(capacity), [], 0
    for size in sizes:
        batch = [{"n": n + i} for i in range(size)]
        n += size
        ring.extend(batch)
        model.extend(r["n"] for r in batch)
    expected = model[-capacity:]
    got = ring.snapshot()
    assert [r["n"] for _, r in got] == expected
    assert [s for s, _ in got] == list(range(n - len(expected) + 1, n + 1))


def test_concurrent_writer_and_readers_keep_invariants():
    """Readers racing a writer always see contiguous, increasing seqs matching the records."""
    ring = RingBuffer(500)
    stop = threading.Event()
    errors: list[str] = []

    def writer():
        for i in range(20_000):
            ring.append({"seq_expected": i + 1})
        stop.set()

    def reader():
        last = 0
        while not stop.is_set():
            items = ring.after(last)
            seqs = [s for s, _ in items]
            if seqs and seqs != list(range(seqs[0], seqs[0] + len(seqs))):
                errors.append("gap")
            if any(s != r["seq_expected"] for s, r in items):
                errors.append("mismatch")
            if seqs and seqs[0] <= last:
                errors.append("not newer")
            if len(items) > ring.capacity:
                errors.append("too many")
            if seqs:
                last = seqs[-1]

    threads = [threading.Thread(target=writer)]
    threads += [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert ring.last_seq == 20_000 and len(ring) == 500


@settings(max_examples=100, deadline=None)
@given(capacity=st.integers(1, 20), headroom=st.integers(0, 8),
       sizes=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=15))
def test_make_room_frees_only_unseen_records_and_changes_no_reading(capacity, headroom, sizes):
    """Whatever make_room(n) is told before each extend, readers see exactly what a ring
    without headroom shows, and the ring never holds more than capacity + headroom records
    (fewer once make_room freed the ones the next extend replaces)."""
    ring, plain, n = RingBuffer(capacity, headroom), RingBuffer(capacity, 0), 0
    for announced, size in sizes:
        ring.make_room(announced)
        assert ring.snapshot() == plain.snapshot() and len(ring) == len(plain)
        held = sum(slot is not None for slot in ring._slots)
        assert held <= capacity + headroom
        if announced >= size and ring.last_seq >= capacity + headroom:
            assert held <= capacity + headroom - min(size, headroom)
        batch = [{"n": n + i} for i in range(size)]
        n += size
        ring.extend(batch)
        plain.extend(batch)
        assert ring.snapshot() == plain.snapshot() and ring.last_seq == plain.last_seq
        assert [s for s, _ in ring.after(n - 3)] == [s for s, _ in plain.after(n - 3)]
