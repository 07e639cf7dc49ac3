"""Tests for streamdash.store.recent.RecentLog: bounded, newest first, copies, counted."""

import threading

from streamdash.store.recent import RecentLog
from tests.helpers import within


def test_keeps_the_newest_capacity_items_and_counts_every_one():
    """Beyond its capacity the oldest items go; total still counts all that were added."""
    log = RecentLog(3)
    for i in range(5):
        log.add({"i": i})
    assert len(log) == 3 and log.total == 5
    assert [r["i"] for r in log.recent()] == [4, 3, 2]
    assert [r["i"] for r in log.recent(limit=2)] == [4, 3]


def test_readers_get_copies_not_the_stored_items():
    """Changing what recent() returned leaves the log as it was."""
    log = RecentLog(2)
    log.add({"i": 1})
    log.recent()[0]["i"] = 99
    assert log.recent() == [{"i": 1}]


def test_extend_from_takes_one_dict_or_a_list_as_the_event_bus_delivers():
    """The event-bus subscriber accepts a single event or a batch of them, in order."""
    log = RecentLog(10)
    log.extend_from({"i": 0})
    log.extend_from([{"i": 1}, {"i": 2}])
    assert [r["i"] for r in log.recent()] == [2, 1, 0] and log.total == 3


def test_restored_items_show_but_do_not_count_as_this_runs():
    """Items restored from an earlier run are held (oldest first) without raising total."""
    log = RecentLog(3)
    log.restore([{"i": 0}, {"i": 1}, {"i": 2}, {"i": 3}])
    assert [r["i"] for r in log.recent()] == [3, 2, 1] and log.total == 0
    log.add({"i": 4})
    assert [r["i"] for r in log.recent()] == [4, 3, 2] and log.total == 1


def test_concurrent_writers_are_all_counted_and_the_bound_holds():
    """Four threads adding 1,000 items each: total is 4,000 and the log holds its capacity."""
    log = RecentLog(100)

    def write(n):
        for i in range(1000):
            log.add({"n": n, "i": i})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(within())
    assert log.total == 4000 and len(log) == 100 and len(log.recent()) == 100
