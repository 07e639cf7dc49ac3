"""A spreading worker in this process (``streamdash.spread``): two of them on one redis-server
share two streams — a newcomer gets its share from the holder's clean give-up, a worker that
stops hands its streams back — with the counters carried on in Redis across every move.

Bounds: a worker's round comes every ``TTL / 3``; a give-up drains for at most
``DRAIN_TIMEOUT``; each wait is those periods (``tests.helpers.within``).
"""

from __future__ import annotations

import os
import time

import pytest
import requests

from streamdash.config import Settings
from streamdash.errors import ConfigError
from streamdash.spread import SpreadWorker
from streamdash.state.build import open_store
from streamdash.worker import DRAIN_TIMEOUT, Worker, build_worker
from tests.helpers import wait_until, within

TTL = 2.0  # state.lease_ttl: a round every TTL / 3
NAMES = ["quakes", "prices"]
NO_FAULTS = {"null_rate": 0, "duplicate_rate": 0, "late_rate": 0, "invalid_rate": 0,
             "outlier_rate": 0}
OUTCOMES = ("accepted", "rejected", "duplicate", "filtered", "late", "dropped")


def spread_settings(url: str, prefix: str, **streams_extra) -> Settings:
    source = {"type": "simulated", "interval": 0.1, "batch_size": 5, **NO_FAULTS}
    return Settings({
        "streams": {"quakes": {"source": {**source, "seed": 1}},
                    "prices": {"source": {**source, "seed": 2}}, **streams_extra},
        "state": {"backend": "redis", "url": url, "read_cache": 0, "key_prefix": prefix,
                  "lease_ttl": TTL, "flush_interval": 0.2},
        "worker": {"health_port": 0}})


def balanced(a: SpreadWorker, b: SpreadWorker) -> bool:
    return len(a.held()) == len(b.held()) == 1 and set(a.held() + b.held()) == set(NAMES)


def identity_holds(counts: dict) -> bool:
    return counts["in"] == sum(counts[o] for o in OUTCOMES)


@pytest.fixture
def prefix() -> str:
    return f"spread{os.getpid()}x{int(time.monotonic() * 1000)}"


def test_two_workers_share_two_streams_and_hand_them_over_cleanly(redis_url, prefix):
    """A alone holds both; B joins: A gives one up (drained, written, released) and B takes
    it, carrying on its counters; B's /health lists what it holds and what it stands by for;
    B stops: A takes the stream back. Every record stays accounted for."""
    settings = spread_settings(redis_url, prefix)
    store = open_store(settings)
    a = SpreadWorker(settings)
    b: SpreadWorker | None = None
    try:
        a.start()
        wait_until(lambda: a.held() == NAMES, within(TTL / 3), "A to take both streams")
        wait_until(lambda: all(store.stream(n).counts()["in"] > 0 for n in NAMES),
                   within(0.1, 0.2), "both streams written")
        b = SpreadWorker(settings)
        b.start()
        wait_until(lambda: balanced(a, b), within(TTL / 3, DRAIN_TIMEOUT, TTL / 3),
                   "one stream each")
        moved = b.held()[0]
        assert a.held() == [n for n in NAMES if n != moved]
        # The stream B took carries on from what A wrote at its give-up.
        stream = store.stream(moved)
        at_move = stream.counts()["in"]
        wait_until(lambda: stream.counts()["in"] > at_move, within(0.1, 0.2), "B's records")
        assert stream.view().worker == b.worker_id
        health = requests.get(b.health.url + "/health", timeout=5)
        report = health.json()
        assert health.status_code == 200 and report["streams"]["held"] == [moved]
        assert report["streams"]["standby"] == {a.held()[0]: a.worker_id}
        assert report["live_workers"] == 2 and report["share"] == 1
        assert any(r.startswith(f"standby: stream '{a.held()[0]}' is written by worker "
                                f"{a.worker_id}") for r in report["reasons"])
        ready = requests.get(b.health.url + "/health/ready", timeout=5)
        assert ready.status_code == 200 and ready.json()["streams"] == [moved]
        assert b.stop(5)
        wait_until(lambda: a.held() == NAMES, within(TTL / 3), "A to take the stream back")
        back = stream.counts()["in"]
        wait_until(lambda: stream.counts()["in"] > back, within(0.1, 0.2), "A's records")
    finally:
        if b is not None:
            b.stop(5)
        assert a.stop(5)
    for name in NAMES:
        counts = store.stream(name).counts()
        assert identity_holds(counts), (name, counts)
        assert counts["dropped"] == 0, (name, counts)  # clean moves lose nothing in flight
    store.close()


def test_a_worker_that_finds_its_lease_taken_lets_the_stream_go(redis_url, prefix):
    """The lease changes hands behind the worker's back (as after a long cut-off): it stops
    that stream's pipeline at its next round and holds the other on."""
    import redis

    settings = spread_settings(redis_url, prefix)
    a = SpreadWorker(settings)
    try:
        a.start()
        wait_until(lambda: a.held() == NAMES, within(TTL / 3), "A to take both streams")
        redis.Redis.from_url(redis_url).set(f"{prefix}:prices:lease", "intruder", px=60_000)
        wait_until(lambda: a.held() == ["quakes"], within(TTL / 3, TTL / 3, DRAIN_TIMEOUT),
                   "A to let prices go")
        report = a.health.answer("/health")[1]
        assert report["streams"]["standby"] == {"prices": "intruder"}
    finally:
        assert a.stop(5)


def test_a_stream_another_wrote_while_its_lease_had_expired_gets_a_new_pipeline(redis_url,
                                                                              prefix):
    """The lease expired (Redis away) and another worker wrote the stream meanwhile: the
    worker neither carries its stale pipeline on nor takes the lease again for it in the same
    round (that would add the stream's counters to a pipeline already counting); it gives
    the pipeline up, then takes the stream with a new one."""
    import redis

    r = redis.Redis.from_url(redis_url)
    a = SpreadWorker(spread_settings(redis_url, prefix))
    try:
        a.step()  # alone: takes both
        unit = a.units["prices"]
        old = unit.runtime
        wait_until(lambda: unit.publisher.writes >= 1, within(0.2), "a first write")
        unit.publisher.may_write = lambda: False  # lapsed: its writes are refused now
        r.delete(unit.keys.key("lease"))  # expired while Redis was away
        r.hset(unit.keys.pulse, "worker", "another-worker")  # who wrote the stream meanwhile
        a.step()
        assert unit.lost and unit.runtime is old and r.get(unit.keys.key("lease")) is None
        assert a.held() == ["quakes"]
        a.step()  # gives the stale pipeline up (drains, writes refused)
        wait_until(lambda: not unit.releasing, within(DRAIN_TIMEOUT), "the give-up")
        a.step()
        assert a.held() == NAMES and unit.runtime is not old and unit.runtime.running
    finally:
        assert a.stop(5)
        r.close()


def test_build_worker_spreads_several_streams_and_keeps_one_stream_a_worker(redis_url, prefix):
    settings = spread_settings(redis_url, prefix)
    spread = build_worker(settings)
    single = build_worker(Settings({"state": {"backend": "redis", "url": redis_url},
                                    "worker": {"health_port": 0}}))
    try:
        assert isinstance(spread, SpreadWorker) and isinstance(single, Worker)
        assert spread.log_fields()["streams"] == "quakes,prices"
        with pytest.raises(ConfigError, match="build_worker"):
            Worker(settings)
    finally:
        assert spread.stop(1) and single.stop(1)


def test_a_spreading_worker_refuses_memory_state_and_names_a_stream_s_bad_key(redis_url,
                                                                              prefix):
    with pytest.raises(ConfigError) as memory:
        SpreadWorker(Settings({"streams": {"a": {}, "b": {}}}))
    assert memory.value.key == "state.backend"
    bad = spread_settings(redis_url, prefix, broken={"source": {"type": "http"}})
    with pytest.raises(ConfigError) as exc:
        SpreadWorker(bad)
    assert exc.value.key.startswith("streams.broken.source")


def test_without_redis_a_spreading_worker_takes_nothing_and_says_why(prefix):
    """Redis does not answer: a round takes no stream, /health is down (503) with the reason,
    /health/ready is 503 too."""
    from tests.servers import free_port

    port = free_port()
    settings = spread_settings(f"redis://127.0.0.1:{port}/0", prefix).with_overrides(
        {"state.retries": 0, "state.connect_timeout": 0.5, "state.socket_timeout": 0.5})
    worker = SpreadWorker(settings)
    try:
        assert worker.health.answer("/health/ready") == \
            (503, {"status": "not ready", "reason": "not started"})
        worker.step()
        assert worker.held() == [] and f"127.0.0.1:{port}" in worker.error
        code, report = worker.health.answer("/health")
        assert code == 503 and report["status"] == "down"
        assert report["reasons"][0].startswith("state store failing: ")
        assert report["streams"] == {"held": [], "standby": {"quakes": None, "prices": None}}
        code, ready = worker.health.answer("/health/ready")
        assert code == 503 and ready["reason"] == worker.error
    finally:
        assert worker.stop(1)
