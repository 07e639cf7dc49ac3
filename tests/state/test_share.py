"""The fair share of streams between workers (pure), and the heartbeats on a real Redis."""

from __future__ import annotations

import pytest
import redis

from streamdash.state.share import beat, fair_share, heartbeat_key, live_workers, plan
from tests.helpers import wait_until, within

STREAMS = ("a", "b", "c")


@pytest.mark.parametrize(("streams", "live", "share"),
                         [(2, 1, 2), (2, 2, 1), (3, 2, 2), (4, 3, 2), (1, 5, 1), (0, 1, 0),
                          (5, 0, 5)])
def test_the_share_is_the_ceiling_of_streams_over_live_workers(streams, live, share):
    assert fair_share(streams, live) == share


def test_a_lone_worker_takes_every_free_stream_in_config_order():
    assert plan(STREAMS, held=set(), free={"c", "a", "b"}, live=1) == (["a", "b", "c"], [])


def test_a_worker_takes_only_free_streams_and_only_up_to_its_share():
    assert plan(STREAMS, held=set(), free={"b", "c"}, live=2) == (["b", "c"], [])
    assert plan(STREAMS, held={"a"}, free={"b", "c"}, live=2) == (["b"], [])
    assert plan(STREAMS, held={"a"}, free=set(), live=1) == ([], [])  # others hold them


def test_a_worker_over_its_share_releases_its_last_streams():
    """A newcomer shrinks the share: the holder gives up the streams over it (config order's
    last), and takes nothing meanwhile."""
    assert plan(STREAMS, held={"a", "b", "c"}, free=set(), live=2) == ([], ["c"])
    assert plan(STREAMS, held={"a", "b", "c"}, free=set(), live=3) == ([], ["b", "c"])
    assert plan(("a", "b"), held={"a", "b"}, free=set(), live=2) == ([], ["b"])


def test_at_its_share_a_worker_neither_takes_nor_releases():
    assert plan(STREAMS, held={"a", "c"}, free={"b"}, live=2) == ([], [])
    assert plan(("a", "b"), held={"b"}, free={"a"}, live=2) == ([], [])


def test_after_a_death_the_survivor_s_share_grows_over_the_free_streams():
    assert plan(("a", "b"), held={"b"}, free={"a"}, live=1) == (["a"], [])


def test_spreading_converges_to_one_stream_each():
    """Two workers applying plan() in turn to one lease table end with one stream each."""
    owner: dict[str, str | None] = {"a": None, "b": None}
    for _ in range(4):
        for me in ("w1", "w2"):
            held = {s for s, o in owner.items() if o == me}
            take, release = plan(list(owner), held, {s for s, o in owner.items() if o is None},
                                 live=2)
            for s in release:
                owner[s] = None
            for s in take:
                owner[s] = me
    assert sorted(owner.values()) == ["w1", "w2"]


def test_heartbeats_count_the_live_workers_and_expire_with_their_ttl(redis_url):
    client = redis.Redis.from_url(redis_url)
    beat(client, "hb", "w1", 30)
    beat(client, "hb", "w2", 0.2)
    client.set("hb:workers:meta", "a stream named workers")  # not a heartbeat
    assert live_workers(client, "hb") == ["w1", "w2"]
    assert client.pttl(heartbeat_key("hb", "w1")) > 29_000
    wait_until(lambda: live_workers(client, "hb") == ["w1"], within(0.2),
               "w2's heartbeat to expire")
    assert live_workers(client, "other") == []
