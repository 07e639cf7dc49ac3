"""Spreading for real: two ``streamdash worker`` processes and two ``streamdash web`` processes
on one redis-server, a config of two streams (each a replay of its own file, deduplicated by
id). The workers end with one stream each; both webs serve identical ``/api/metrics?stream=``
and the same chart points; ``kill -9`` of one worker moves its stream to the other within the
lease TTL and one round, whose counters carry on (``records_in`` only grows, nothing is
counted twice) with the accounting identity holding on both streams.
A worker holding both streams rides out a Redis stop longer than the lease TTL: it takes its
leases back and writes every record once.

Bounds: ``TTL`` (a round every ``TTL / 3``), a give-up's drain (``DRAIN_TIMEOUT``), the replay's
play time (``N / RATE``) and the time processes take to start (``START_TIMEOUT``).
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from streamdash.config import Settings
from streamdash.models import utc_iso
from streamdash.state.build import open_store
from streamdash.worker import DRAIN_TIMEOUT
from tests.helpers import wait_until, within

from .roles import START_TIMEOUT, Role, call_callback, role_env, write_records

TTL = 3.0  # state.lease_ttl
N, RATE = 300, 400  # records per stream, replayed at RATE a second
NAMES = ("quakes", "prices")
OUTCOMES = ("accepted", "rejected", "duplicate", "filtered", "late", "dropped")
SERIES = ("records_in", "records_accepted", "records_duplicate")
pytestmark = pytest.mark.xdist_group("roles")  # several subprocesses each: one at a time


def readings(n: int, offset: float) -> list[dict]:
    start = time.time()
    return [{"id": i, "key": f"k{i % 3}", "value": float(i % 17) + offset,
             "ts": start + i / RATE} for i in range(n)]


def stream_config(path, rate: float = RATE) -> dict:
    return {"source": {"type": "replay", "path": str(path), "rate": rate, "time_field": "ts",
                       "interval": 0.2},
            "schema": {"key": "id", "event_time": "ts",
                       "fields": {"id": "int", "key": "str", "value": "float",
                                  "ts": "timestamp"}},
            "transforms": [{"dedup": {"key": "id", "ttl": 7200}}],
            "dashboard": {"value_field": "value", "key_field": "key"}}


def held(worker: Role) -> list[str]:
    return worker.get("/health").json()["streams"]["held"]


def identity(counts: dict) -> bool:
    return counts["in"] == sum(counts[o] for o in OUTCOMES)


def settled(workers: tuple[Role, ...], store, name: str) -> bool:
    """The worker holding ``name`` read its file to the end and wrote every record it
    fetched (the accounting identity holds in Redis, nothing left to write)."""
    for worker in workers:
        report = worker.get("/health").json()
        if name in report["streams"]["held"]:
            parts = report["components"]["streams"][name]["components"]
            return parts["source"]["finished"] and parts["state"]["backlog"] == 0 and \
                identity(store.stream(name).counts())
    return False


def served_metrics(webs: list[Role], name: str, records_in: int) -> list[dict]:
    """Each web's /api/metrics?stream=name up to the first snapshot showing ``records_in``
    (a window already in Redis, so both read the same points)."""
    found: list = []

    def snapshot() -> bool:
        answer = webs[0].get(f"/api/metrics?stream={name}&name=records_in&since=10m")
        points = answer.json().get("series", {}).get("records_in", [])
        found[:] = [p["t"] for p in points if p["value"] == records_in]
        return bool(found)

    wait_until(snapshot, 10, f"a snapshot of {name} with {records_in} records in")
    query = (f"/api/metrics?stream={name}&since={utc_iso(found[0] - 60)}"
             f"&until={utc_iso(found[0] + 0.001)}&name=" + "&name=".join(SERIES))
    return [web.get(query).json() for web in webs]


def chart(web: Role, name: str) -> list[tuple[str, list]]:
    figure = call_callback(web, "chart-series", stream=name)["response"]["chart-series"]
    return [(t["name"], t["y"]) for t in figure["figure"]["data"]]


def test_two_workers_spread_two_streams_and_a_killed_one_s_stream_moves(tmp_path, redis_url):
    prefix = f"spread{os.getpid()}x{int(time.monotonic() * 1000)}"
    records = {name: readings(N, offset=100.0 * k) for k, name in enumerate(NAMES)}
    config = tmp_path / "streams.yaml"
    config.write_text(json.dumps({"streams": {  # JSON is YAML
        name: stream_config(write_records(tmp_path / f"{name}.jsonl", records[name]))
        for name in NAMES}}))
    env = role_env(redis_url, None, STREAMDASH_STATE__LEASE_TTL=str(TTL),
                   STREAMDASH_STATE__HEARTBEAT_TTL=str(TTL),
                   STREAMDASH_STATE__KEY_PREFIX=prefix)
    env.pop("STREAMDASH_SOURCE__INTERVAL")  # each stream has its own source
    store = open_store(Settings({"streams": {n: {} for n in NAMES},
                                 "state": {"backend": "redis", "url": redis_url,
                                           "read_cache": 0, "key_prefix": prefix}}))
    started: list[Role] = []

    def start(role: str, *args: str) -> Role:
        started.append(Role(tmp_path, role, env, "--config", str(config), *args))
        return started[-1]

    try:
        a, b = start("worker"), start("worker")
        webs = [start("web", "--workers", "2"), start("web", "--workers", "1")]
        for process in started:
            process.wait_answering()
        # One stream each: the first to run takes both, gives one up when the other's
        # heartbeat shows (a round), drained (DRAIN_TIMEOUT); the other takes it (a round).
        wait_until(lambda: sorted(held(a) + held(b)) == sorted(NAMES) and len(held(a)) == 1,
                   within(TTL / 3, DRAIN_TIMEOUT, TTL / 3) + START_TIMEOUT, "one stream each")
        # Each holder replays its file to the end (the taker of a given-up stream from the
        # start: the restored dedup keys drop what the giver had accepted) and writes it all.
        wait_until(lambda: all(settled((a, b), store, n) for n in NAMES),
                   within(N / RATE, N / RATE, TTL / 3), "both streams replayed and written")
        assert all(store.stream(n).counts()["accepted"] == N for n in NAMES)
        for name in NAMES:
            counts = store.stream(name).counts()
            answers = served_metrics(webs, name, counts["in"])
            assert answers[0] == answers[1] and answers[0]["from"] == "redis", name
            expected: dict[str, list] = {}
            for r in records[name]:
                expected.setdefault(r["key"], []).append(r["value"])
            points = chart(webs[0], name)
            assert points == chart(webs[1], name) == list(expected.items()), name
            assert identity(counts), (name, counts)

        victim, survivor = (a, b)
        moved = held(victim)[0]
        survivor_id = survivor.get("/health").json()["worker"]
        before = {n: store.stream(n).counts() for n in NAMES}
        os.killpg(victim.proc.pid, signal.SIGKILL)
        killed = time.monotonic()
        assert victim.proc.wait(10) == -signal.SIGKILL
        wait_until(lambda: sorted(held(survivor)) == sorted(NAMES), within(TTL, TTL / 3),
                   "the survivor to take the killed worker's stream")
        took = time.monotonic() - killed
        print(f"stream {moved} moved {took:.2f} s after kill -9 (lease_ttl {TTL:g} s)")
        assert took <= TTL + TTL / 3 + 5, took  # the TTL, one round, a loaded machine's slack
        # The survivor replays the moved stream's file from its start: all duplicates now.
        seen = [before[moved]["in"]]

        def replayed() -> bool:
            counts = store.stream(moved).counts()
            assert counts["in"] >= seen[-1], (counts, seen)  # records_in only grows
            seen.append(counts["in"])
            return counts["in"] == before[moved]["in"] + N and identity(counts)

        wait_until(replayed, within(N / RATE, TTL / 3), "the moved stream replayed")
        assert store.stream(moved).view().worker == survivor_id
        for name in NAMES:
            counts = store.stream(name).counts()
            assert identity(counts) and counts["accepted"] == N, (name, counts)
            assert counts["dropped"] == 0, (name, counts)  # the victim was idle: all written
            answers = served_metrics(webs, name, counts["in"])
            assert answers[0] == answers[1], name
        assert survivor.stop() == 0  # drains both streams, writes their last state
    finally:
        for process in started:
            process.close()
        store.close()


def test_a_spreading_worker_rides_out_a_redis_restart(tmp_path, fresh_redis):
    """One worker holds both streams; Redis stops mid-stream for longer than the lease TTL,
    then starts again (its AOF kept the data). Meanwhile the worker says the store fails and
    goes on ingesting into its local buffers; then it takes its leases back (nobody else wrote
    the streams) and writes what it held: each stream's records arrive once — none fetched
    twice, none dropped, the buffers' bound (``buffer.capacity``) not reached."""
    n, rate, capacity = 2000, 200, 5000  # 10 s of play a stream: the outage falls inside it
    prefix = f"restart{os.getpid()}x{int(time.monotonic() * 1000)}"
    records = {name: readings(n, offset=100.0 * k) for k, name in enumerate(NAMES)}
    config = tmp_path / "streams.yaml"
    config.write_text(json.dumps({"buffer": {"capacity": capacity}, "streams": {
        name: stream_config(write_records(tmp_path / f"{name}.jsonl", records[name]), rate)
        for name in NAMES}}))
    env = role_env(fresh_redis.url, None, STREAMDASH_STATE__LEASE_TTL=str(TTL),
                   STREAMDASH_STATE__HEARTBEAT_TTL=str(TTL),
                   STREAMDASH_STATE__KEY_PREFIX=prefix, STREAMDASH_STATE__RETRIES="0",
                   STREAMDASH_STATE__CONNECT_TIMEOUT="0.5",
                   STREAMDASH_STATE__SOCKET_TIMEOUT="0.5")
    env.pop("STREAMDASH_SOURCE__INTERVAL")  # each stream has its own source
    store = open_store(Settings({"streams": {name: {} for name in NAMES},
                                 "state": {"backend": "redis", "url": fresh_redis.url,
                                           "read_cache": 0, "key_prefix": prefix}}))
    worker = Role(tmp_path, "worker", env, "--config", str(config))
    try:
        worker.wait_answering()
        wait_until(lambda: sorted(held(worker)) == sorted(NAMES) and
                   all(store.stream(name).counts()["accepted"] > 0 for name in NAMES),
                   within(TTL / 3, TTL / 3, 0.2) + START_TIMEOUT, "both streams written")
        fresh_redis.stop()
        stopped = time.monotonic()
        backlogs: dict[str, int] = {}

        def parts(name: str) -> dict:
            return worker.get("/health").json()["components"]["streams"][name]["components"]

        def lapsed() -> bool:
            """The worker says the store fails, has stopped counting itself the holder (its
            last renewal older than 2/3 TTL) and the leases have expired; the largest
            backlog each stream reported meanwhile is kept."""
            report = worker.get("/health").json()
            for name in NAMES:
                backlogs[name] = max(backlogs.get(name, 0), parts(name)["state"]["backlog"])
            return report["status"] == "down" and \
                report["reasons"][0].startswith("state store failing") and \
                all(not parts(name)["state"]["lease"]["held"] for name in NAMES) and \
                time.monotonic() - stopped > TTL  # the leases have expired in Redis too

        wait_until(lapsed, within(TTL, TTL / 3), "the worker to stop writing")
        assert all(backlogs[name] > 0 for name in NAMES), backlogs
        fresh_redis.start()
        # Each stream: its lease back within a round, then its replay to the end, all written.
        wait_until(lambda: all(settled((worker,), store, name) for name in NAMES),
                   within(TTL / 3, n / rate, TTL / 3), "both streams written to the end")
        for name in NAMES:
            counts = store.stream(name).counts()
            assert counts["in"] == counts["accepted"] == n and identity(counts), (name, counts)
            metrics = store.stream(name).view().metrics["counters"]
            assert metrics.get("state_records_dropped", 0) == 0, (name, metrics)
            assert metrics.get("state_write_errors", 0) >= 1, (name, metrics)
            ids = [r["id"] for _, r in store.stream(name).records.after(0)]
            assert ids == list(range(n)), name  # each once, in order
            assert backlogs[name] < capacity, (name, backlogs)  # the bound was not reached
        assert held(worker) == list(NAMES)
        assert worker.output().count("took the stream's lease back") == len(NAMES)
        assert worker.stop() == 0
    finally:
        worker.close()
        store.close()
