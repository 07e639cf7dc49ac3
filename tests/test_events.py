"""Tests for streamdash.events.EventBus: delivery in order, isolation of failing subscribers."""

import logging

from streamdash.events import EventBus


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
