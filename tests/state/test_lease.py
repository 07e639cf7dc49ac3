"""Stream leases on a real redis-server: one holder at a time, a standby takes an expired
lease, a holder cut off stops counting itself the holder, takes an expired lease back only
when nobody wrote meanwhile, and counters carry on."""

from __future__ import annotations

import redis

from streamdash.state.layout import Keys
from streamdash.state.lease import LeaseKeeper
from streamdash.testing import FakeClock

from .harness import Harness, recs


def keeper(url: str, owner: str, events: list, clock=None, ttl: float = 3.0,
           resume=lambda: False) -> LeaseKeeper:
    return LeaseKeeper(redis.Redis.from_url(url), Keys("t", "default"), owner, ttl,
                       on_acquired=lambda: events.append(("took", owner)),
                       on_lost=lambda: events.append(("lost", owner)), resume=resume,
                       monotonic=clock or FakeClock(0.0))


def test_one_holder_a_standby_and_a_take_over(redis_url):
    """The first takes the lease, the second waits; once the first's lease is gone the
    second takes it; the first, renewing, finds it lost."""
    events: list = []
    clock = FakeClock(0.0)
    a, b = keeper(redis_url, "A", events, clock), keeper(redis_url, "B", events, clock)
    a.step()
    b.step()
    assert events == [("took", "A")] and a.held and not b.held
    assert b.holder() == "A" and b.describe()["holder"] == "A"
    a.step()  # a renewal
    assert a.held
    clock.advance(2.5)  # no renewal for over 2/3 of the TTL: A stops counting itself holder
    assert not a.held
    redis.Redis.from_url(redis_url).delete("t:default:lease")  # as if the TTL ran out
    b.step()
    assert events[-1] == ("took", "B") and b.holder() == "B"
    a.step()
    assert events[-1] == ("lost", "A") and not a.held


def test_an_expired_lease_is_taken_back_only_when_nobody_wrote_meanwhile(redis_url):
    """Redis away longer than the TTL: the lease is gone when it answers again. The holder
    takes it back and carries on when ``resume()`` says nobody wrote the stream; when it
    says another did, the holder lets the lease go and counts it lost; while ``resume()``
    cannot answer (Redis away again), it asks again at the next renewal."""
    r = redis.Redis.from_url(redis_url)
    answers: list = [ConnectionError("away again"), True, False]

    def resume() -> bool:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise redis.ConnectionError(str(answer))
        return answer

    events: list = []
    clock = FakeClock(0.0)
    a = keeper(redis_url, "A", events, clock, resume=resume)
    a.step()
    clock.advance(2.5)
    r.delete("t:default:lease")  # expired while Redis was away
    a.step()  # taken, but resume() did not answer: not yet the holder again
    assert not a.held and a.error and events == [("took", "A")]
    a.step()  # asked again: nobody wrote, carry on
    assert a.held and a.error is None and events == [("took", "A")]
    assert a.holder() == "A"
    r.delete("t:default:lease")
    a.step()  # another worker wrote meanwhile: the lease goes, the pipeline must stop
    assert events[-1] == ("lost", "A") and not a.held and a.holder() is None
    assert answers == []


def test_stopping_releases_the_lease(redis_url):
    """A worker that stops gives its stream up at once: a standby need not wait the TTL."""
    events: list = []
    a, b = keeper(redis_url, "A", events), keeper(redis_url, "B", events)
    a.step()
    assert a.stop()
    b.step()
    assert events == [("took", "A"), ("took", "B")]


def test_a_new_writer_carries_on_the_counters(request):
    """Taking a stream over, a worker starts from the counters in Redis; what the last
    writer had fetched but not processed is counted as dropped: the identity holds."""
    first = Harness.build(request, "redis")
    first.runtime.metrics.add_many({"records_in": 10, "records_accepted": 7,
                                    "records_rejected": 1, "fetches": 3})
    first.sync()
    first.close()
    second = Harness.build(request, "redis")
    adopted = second.publisher.adopt()
    assert adopted["records_in"] == 10 and adopted["records_dropped"] == 2
    counts = second.runtime.counts()
    assert counts["in"] == sum(v for k, v in counts.items() if k != "in") == 10
    second.runtime.buffer.extend(recs(2))
    second.sync()
    assert second.stream.counts()["in"] == 10 and second.stream.records.last_seq == 2
    second.close()
