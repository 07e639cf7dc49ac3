"""A worker's held acknowledgements (streamdash.pipeline.acks): a push source hears of a
batch only once a write holding it went through, and a full set of held acknowledgements
stops the producer reading the source (backpressure) without dropping anything.

Bounds: the double's fetch waits at most ``BATCH_TIME`` (as a push source's batch time); the
producer looks at the bound again every 0.1 s (``Producer._wait_for_acks``).
"""

from __future__ import annotations

import threading
import time

from streamdash.config import Settings
from streamdash.metrics import Metrics
from streamdash.pipeline.acks import HeldAcks, defer_acks
from streamdash.runtime import Runtime
from streamdash.sources.base import Delivery, Source
from tests.helpers import wait_stable, wait_until, within

BATCH_TIME = 0.01
RECHECK = 0.1  # the producer's wait for room, in slices


class Pushed(Source):
    """A push source of ``total`` records, ``per_fetch`` a fetch, each token the ids it holds."""

    push = True

    def __init__(self, total: int, per_fetch: int):
        super().__init__("pushed")
        self.total, self.per_fetch = total, per_fetch
        self.sent = 0
        self.acked: list[int] = []
        self._lock = threading.Lock()

    def fetch(self):
        if self.sent >= self.total:
            time.sleep(BATCH_TIME)  # a push source's fetch waits its batch time for more
            return []
        ids = list(range(self.sent, min(self.total, self.sent + self.per_fetch)))
        self.sent += len(ids)
        return Delivery([{"id": i} for i in ids], ids)

    def ack(self, token):
        with self._lock:
            self.acked.extend(token)


def test_tokens_reach_the_source_only_up_to_the_mark_of_a_write():
    """What was held before the mark goes to the source, in order, once released; what came
    after waits for the next write; a token without a length counts as one message."""
    acked: list = []
    held = HeldAcks(acked.append, Metrics(), limit=100)
    for token in ([1, 2], "t", [3]):
        held.track(token)  # fetched
    held.hold([1, 2])  # stored
    held.hold("t")
    mark = held.mark()  # read with what a write holds
    held.hold([3])
    assert acked == [] and held.pending() == {"messages": 4, "batches": 3, "limit": 100}
    assert held.release(mark) == 2
    assert acked == [[1, 2], "t"] and held.pending()["messages"] == 1
    assert held.release(mark) == 0  # the same write again: nothing more
    held.release(held.mark())
    assert acked == [[1, 2], "t", [3]] and held.pending()["batches"] == 0


def test_a_full_set_of_held_acknowledgements_stops_reading_and_drops_nothing():
    """With ``limit`` messages fetched and not acknowledged the producer reads nothing more
    (it says it waits, the time is counted); a write's release lets it go on, and every
    record arrives once."""
    limit, per_fetch, total = 5, 2, 20
    source = Pushed(total, per_fetch)
    runtime = Runtime(Settings({"source.interval": 0.1}), source)
    held = defer_acks(runtime.producer, runtime.consumer, limit)
    assert held is not None
    with runtime:
        wait_until(lambda: runtime.source_health.snapshot()["waiting_since"] is not None,
                   within(BATCH_TIME * limit), "the producer to stop reading")
        # Stopped: nothing more is read while nothing is released (a few of its rechecks).
        sent = wait_stable(lambda: source.sent, 5 * RECHECK, within(RECHECK))
        assert limit <= held.pending()["messages"] == sent < limit + per_fetch
        assert source.acked == []
        while len(source.acked) < total:  # each write releases what it held
            held.release(held.mark())
            wait_until(lambda: held.pending()["messages"] or source.sent == total,
                       within(BATCH_TIME, RECHECK), "the producer to read again")
            wait_until(lambda: len(runtime.buffer) == source.sent, within(BATCH_TIME),
                       "what it read to be stored")
    assert source.acked == list(range(total))  # each once, in order
    counters = runtime.metrics.snapshot()["counters"]
    assert counters["records_accepted"] == total and counters.get("records_dropped", 0) == 0
    assert counters["acks_pending_full"] >= 1
    assert counters["producer_blocked_seconds"] > 0


def test_a_pulled_source_has_nothing_to_hold():
    """A polled source acknowledges nothing: its pipeline is left as it is."""
    runtime = Runtime(Settings({"source.interval": 1}))
    assert defer_acks(runtime.producer, runtime.consumer, 5) is None
    assert runtime.producer.held is None
