"""Tests for streamdash.events.EventBus: delivery in order, isolation of failing subscribers."""

import logging
import threading

from streamdash.events import EventBus
from tests.helpers import within


def test_subscribers_of_a_topic_are_called_in_order_and_only_for_it():
    """Each subscriber of a topic gets the payload, in subscription order; other topics not."""
    bus, got = EventBus(), []
    bus.subscribe("window", lambda p: got.append(("first", p)))
    bus.subscribe("window", lambda p: got.append(("second", p)))
    bus.subscribe("alert", lambda p: got.append(("alert", p)))
    bus.publish("window", [1])
    assert got == [("first", [1]), ("second", [1])]
    assert bus.has_subscribers("alert") and not bus.has_subscribers("late")
    bus.publish("late", {"x": 1})  # nobody listens: nothing happens
    assert len(got) == 2


def test_a_failing_subscriber_is_logged_and_the_others_still_run(caplog):
    """A subscriber that raises does not stop the publisher or the subscribers after it."""
    bus, got = EventBus(), []

    def broken(payload):
        raise RuntimeError("boom")

    bus.subscribe("alert", broken)
    bus.subscribe("alert", got.append)
    with caplog.at_level(logging.ERROR, logger="streamdash.events"):
        bus.publish("alert", {"state": "firing"})
    assert got == [{"state": "firing"}]
    (record,) = [r for r in caplog.records if r.getMessage() == "event subscriber failed"]
    assert record.ctx == {"topic": "alert"} and record.exc_info[0] is RuntimeError


def test_publishing_without_subscribers_does_nothing_and_topics_are_independent():
    """A topic nobody subscribed to accepts a publish silently; subscribing to one topic makes
    no other topic reachable."""
    bus = EventBus()
    bus.publish("window", [1])  # no subscriber: no error
    assert not bus.has_subscribers("window")
    bus.subscribe("late", lambda p: None)
    assert bus.has_subscribers("late") and not bus.has_subscribers("window")


def test_the_same_subscriber_twice_is_called_twice():
    """Subscribing a function twice delivers each payload to it twice (no silent dedup)."""
    bus, got = EventBus(), []
    bus.subscribe("alert", got.append)
    bus.subscribe("alert", got.append)
    bus.publish("alert", "x")
    assert got == ["x", "x"]


def test_subscribing_while_another_thread_publishes_loses_no_delivery():
    """Publishers read an immutable tuple of subscribers: subscribing from another thread
    mid-stream never breaks a publish, and every payload reaches every subscriber that was
    there before it was published."""
    bus, first, late = EventBus(), [], []
    bus.subscribe("t", first.append)
    done = threading.Event()

    def subscribe_later():
        bus.subscribe("t", late.append)
        done.set()

    worker = threading.Thread(target=subscribe_later)
    for i in range(1000):
        if i == 500:
            worker.start()
        bus.publish("t", i)
    worker.join(within())
    bus.publish("t", "after")
    assert done.is_set() and first == [*range(1000), "after"]
    tail = late[:-1]  # what was published after the subscription took effect, in order
    assert late[-1] == "after" and tail == list(range(1000 - len(tail), 1000))


def test_a_subscriber_runs_in_the_publishers_thread():
    """Delivery is synchronous: the subscriber runs in the publishing thread, before publish
    returns."""
    bus, seen = EventBus(), []
    bus.subscribe("t", lambda p: seen.append(threading.current_thread()))
    bus.publish("t", None)
    assert seen == [threading.current_thread()]
