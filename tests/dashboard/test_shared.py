"""Tests for streamdash.dashboard.shared (values every viewer shares, built once per version)."""

import threading

import pytest

from streamdash.dashboard.shared import SharedValues


def counting(value):
    """A build function returning ``value`` and counting its calls."""
    calls = []

    def build():
        calls.append(1)
        return value
    return build, calls


def test_a_value_is_built_once_per_version_and_rebuilt_for_a_new_one():
    """The same key returns the same object without building again; a new key builds anew."""
    cache = SharedValues(4)
    build, calls = counting(["v1"])
    first = cache.get("tables", 1, build)
    assert cache.get("tables", 1, build) is first and len(calls) == 1
    rebuilt = cache.get("tables", 2, counting(["v2"])[0])
    assert rebuilt == ["v2"] and cache.get("tables", 2, build) is rebuilt and len(calls) == 1


def test_a_snapshot_object_is_its_own_key():
    """A snapshot (the object every viewer of one version gets) keys what is derived from it;
    an equal new snapshot finds it too, another one does not."""
    cache = SharedValues(4)
    snapshot = {"records_in": 10, "rate": 2.0}
    build, calls = counting("texts")
    cache.get("header", snapshot, build)
    cache.get("header", dict(snapshot), build)
    assert len(calls) == 1
    cache.get("header", {**snapshot, "records_in": 11}, build)
    assert len(calls) == 2


def test_names_from_a_hostile_client_do_not_grow_it():
    """Thousands of distinct names (and keys) keep at most ``size`` values: the least
    recently used go first, a recently used one stays."""
    cache = SharedValues(8)
    cache.get("kept", 0, lambda: "kept")
    for i in range(10_000):
        cache.get(f"evil-{i}", i, lambda: "x" * 100)
        if i % 4 == 0:
            cache.get("kept", 0, lambda: pytest.fail("rebuilt a recently used value"))
    assert len(cache) == 8


def test_concurrent_viewers_build_one_value():
    """Twenty threads asking at once for a new version cause one build."""
    cache = SharedValues(4)
    calls = []
    gate = threading.Barrier(20)

    def build():
        calls.append(1)
        return object()

    def viewer():
        gate.wait()
        cache.get("summary", 7, build)
    threads = [threading.Thread(target=viewer) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1


def test_it_needs_room_for_one_value():
    """A size below one is refused, naming it."""
    with pytest.raises(ValueError, match="at least one"):
        SharedValues(0)
