"""kill -9 of `streamdash run` mid-stream, then a restart: every message is processed at
least once and counted once, for each push source, on real brokers — and of a `streamdash
worker` between its read and its write to Redis, which must not have acknowledged what it had
not written.

What the killed process had acknowledged is read from the broker side (Redis: the group's
pending list and last delivered id; MQTT: a proxy that sees each PUBACK, tests/mqtt_proxy.py).
Acknowledging only after storing means those messages were stored by the first process; the
restarted one must then store exactly all the others — no fewer (nothing lost), no more
(a message the broker sends twice meets dedup and counts as a duplicate, not again).
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import urllib.request
from pathlib import Path

import pytest
import redis
import yaml

from streamdash.config import Settings
from streamdash.state.build import open_store
from tests.helpers import wait_for, wait_until, within
from tests.mqtt_helpers import publish as mqtt_publish
from tests.mqtt_helpers import readings
from tests.mqtt_proxy import AckSpy
from tests.roles import START_TIMEOUT, Role, role_env
from tests.servers import free_port
from tests.sources.test_redis_stream import publish as redis_publish
from tests.test_serving import START_WITHIN, Command

N = 10_000
BATCH_TIME = 0.05


class Streamdash:
    """`python -m streamdash run` with a settings file, its data dir and a free port."""

    def __init__(self, tmp_path: Path, source: dict, schema: dict, run: int):
        folder = tmp_path / f"run{run}"
        folder.mkdir()
        config = tmp_path / "settings.yaml"
        config.write_text(yaml.safe_dump({"source": source, "schema": schema,
                                          "transforms": ["dedup"],
                                          "buffer": {"capacity": 2 * N}}))
        self.port = free_port()
        self.cmd = Command(folder, "run", "--config", str(config), "--port", str(self.port),
                           "--data-dir", str(tmp_path / "data"))
        self.cmd.wait_serving(f"http://127.0.0.1:{self.port}/health/live")

    def counters(self) -> dict[str, float]:
        """The records_* counters from /metrics (its one stream's: label stream="default")."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            text = r.read().decode()
        return {m.group(1): float(m.group(2)) for m in
                re.finditer(r'^streamdash_records_(\w+)_total\{stream="default"\} (\S+)$', text,
                            re.M)}

    def stored(self) -> float:
        c = self.counters()
        return c.get("accepted", 0) + c.get("rejected", 0)


def test_redis_stream_kill_9_then_restart(redis_url, tmp_path):
    """Killed with entries read but not acknowledged: the restarted process (same consumer)
    stores exactly the entries the first had not acknowledged, and none twice."""
    redis_publish(redis_url, N // 2)
    source = {"type": "redis-stream", "url": redis_url, "stream": "sensors", "start": "0",
              "payload_field": "data", "id_field": "sid", "consumer": "crash-test",
              "batch_size": 100, "batch_time": BATCH_TIME, "interval": 0.2}
    schema = {"key": "sid", "fields": {"sid": "str", "seq": "int", "value": "float"}}
    r = redis.Redis.from_url(redis_url)

    def delivered(group: dict) -> int:
        """Entries up to the group's last delivered id (the ids are 1-0, 2-0 …)."""
        return int(group["last-delivered-id"].split(b"-")[0])

    def acked() -> int:  # (XINFO's entries-read may be unknown: nil)
        groups = r.xinfo_groups("sensors")
        return delivered(groups[0]) - groups[0]["pending"] if groups else 0

    first = Streamdash(tmp_path, source, schema, 1)
    assert wait_for(lambda: acked() >= 1_000, START_WITHIN), first.cmd.text()[1][-2000:]
    first.cmd.kill()
    group = r.xinfo_groups("sensors")[0]
    pending = {e["message_id"] for e in r.xpending_range("sensors", "streamdash", "-", "+", N)}
    done_by_first = {f"{i + 1}-0".encode() for i in range(delivered(group))} - pending
    assert len(pending) == group["pending"] and done_by_first, "killed before or after"
    redis_publish(redis_url, N, start=N // 2)  # the stream goes on while streamdash is down

    second = Streamdash(tmp_path, source, schema, 2)
    try:
        expected = N - len(done_by_first)
        assert wait_for(lambda: second.stored() >= expected, within(BATCH_TIME * N / 100)), \
            (second.counters(), expected)
        assert wait_for(lambda: r.xinfo_groups("sensors")[0]["pending"] == 0, within(0.2))
        counts = second.counters()
    finally:
        second.cmd.kill()
    assert counts["accepted"] == expected and counts.get("rejected", 0) == 0
    assert counts["in"] == counts["accepted"] + counts.get("duplicate", 0)
    assert delivered(r.xinfo_groups("sensors")[0]) == N  # all read, none pending: all stored


def test_mqtt_kill_9_then_restart(mosquitto_server, tmp_path):
    """Killed mid-stream with QoS 1 messages received but not acknowledged: the broker sends
    them again to the restarted process (same client id, persistent session), which stores
    exactly the messages the first had not acknowledged, each once."""
    spy = AckSpy(mosquitto_server.port, lambda payload: json.loads(payload)["seq"])
    source = {"type": "mqtt", "url": f"mqtt://127.0.0.1:{spy.port}",
              "topic": "sensors/{sensor}/reading", "client_id": "crash-test",
              "batch_size": 100, "batch_time": BATCH_TIME, "interval": 0.2}
    schema = {"key": "seq", "fields": {"seq": "int", "value": "float", "sensor": "str"}}
    try:
        first = Streamdash(tmp_path, source, schema, 1)
        assert wait_for(lambda: spy.connections and spy.connections[0].subscribed.is_set(),
                        START_WITHIN), first.cmd.text()[1][-2000:]
        publisher = threading.Thread(target=mqtt_publish,
                                     args=(mosquitto_server.port, readings(N)))
        publisher.start()
        conn = spy.connections[0]
        assert wait_for(lambda: len(conn.acked) >= 1_000, within(BATCH_TIME * N / 100))
        first.cmd.kill()
        assert conn.closed.wait(within())
        killed_at = len(spy.connections)
        done_by_first = [seq for c in spy.connections[:killed_at] for seq in c.acked]
        publisher.join(within(BATCH_TIME * N / 100))
        assert len(done_by_first) == len(set(done_by_first)) < N

        second = Streamdash(tmp_path, source, schema, 2)
        try:
            expected = N - len(done_by_first)
            assert wait_for(lambda: second.stored() >= expected, within(BATCH_TIME * N / 100)),\
                (second.counters(), expected)
            later = [seq for c in spy.connections[killed_at:] for seq in c.acked]
            assert wait_for(lambda: len(set(later + [s for c in spy.connections[killed_at:]
                                                     for s in c.acked])) >= expected,
                            within(BATCH_TIME))
            counts = second.counters()
            acked_later = {seq for c in spy.connections[killed_at:] for seq in c.acked}
        finally:
            second.cmd.kill()
    finally:
        spy.close()
    assert counts["accepted"] == expected and counts.get("rejected", 0) == 0
    assert counts["in"] == counts["accepted"] + counts.get("duplicate", 0)
    assert acked_later | set(done_by_first) == set(range(N))
    assert not acked_later & set(done_by_first)


FLUSH = 10.0  # state.flush_interval of the killed worker: it reads long before it writes
TTL = 2.0  # state.lease_ttl: the restarted worker takes the stream over within it
WORKER_N = 2_000


@pytest.mark.xdist_group("roles")  # subprocesses on a real Redis: one such test at a time
def test_a_worker_killed_before_its_write_had_acknowledged_nothing_unwritten(redis_url,
                                                                             tmp_path):
    """`streamdash worker` reads a Redis stream into state it writes to Redis only every
    FLUSH s. Killed -9 after reading every entry but before writing them: every entry not in
    the state store is still pending in the consumer group. Restarted, it stores each entry
    in the state store's counters and live records exactly once (dedup drops what comes
    again), and the group ends with nothing pending."""
    config = tmp_path / "worker.yaml"
    config.write_text(yaml.safe_dump({
        "source": {"type": "redis-stream", "url": redis_url, "stream": "sensors", "start": "0",
                   "payload_field": "data", "id_field": "sid", "consumer": "worker-crash",
                   "batch_size": 100, "batch_time": BATCH_TIME},
        "schema": {"key": "sid", "fields": {"sid": "str", "seq": "int", "value": "float"}},
        "transforms": ["dedup"], "buffer": {"capacity": 2 * WORKER_N}}))
    slow = role_env(redis_url, None, STREAMDASH_STATE__FLUSH_INTERVAL=str(FLUSH),
                    STREAMDASH_STATE__HEARTBEAT_TTL=str(3 * FLUSH),
                    STREAMDASH_STATE__LEASE_TTL=str(TTL))
    store = open_store(Settings({"state": {"backend": "redis", "url": redis_url,
                                           "read_cache": 0}}))
    stream = store.stream()
    r = redis.Redis.from_url(redis_url)

    def group() -> dict:
        found = r.xinfo_groups("sensors") if r.exists("sensors") else []
        return found[0] if found else {"last-delivered-id": b"0-0", "pending": 0}

    def writes(worker: Role) -> int:
        return worker.get("/health").json()["components"].get("state", {}).get("writes", 0)

    first = Role(tmp_path, "worker", slow, "--config", str(config))
    started = [first]
    try:
        first.wait_answering()
        # Its first write comes as it starts; the next one FLUSH s later.
        wait_until(lambda: writes(first) >= 1, within(TTL / 3) + START_TIMEOUT, "a write")
        redis_publish(redis_url, WORKER_N)
        read_all = within(BATCH_TIME * WORKER_N / 100)
        wait_until(lambda: group()["last-delivered-id"] == f"{WORKER_N}-0".encode(), read_all,
                   "the worker to read every entry")
        os.killpg(first.proc.pid, signal.SIGKILL)
        first.proc.wait(10)
        at_kill, pending = stream.counts(), group()["pending"]
        assert at_kill["in"] < WORKER_N, f"it wrote before the kill: raise FLUSH ({at_kill})"

        second = Role(tmp_path, "worker", role_env(redis_url, None,
                                                   STREAMDASH_STATE__LEASE_TTL=str(TTL)),
                      "--config", str(config))
        started.append(second)
        second.wait_answering()
        # It takes the lease once the killed worker's expires, re-reads the pending entries.
        arrived = wait_for(lambda: stream.counts()["accepted"] >= WORKER_N,
                           within(TTL, TTL / 3, BATCH_TIME * WORKER_N / 100, 0.2))
        counts = stream.counts()
        assert arrived, f"entries lost: {counts} ({pending} pending when killed)"
        wait_until(lambda: group()["pending"] == 0, within(0.2, BATCH_TIME), "every ack")
        records = [rec["sid"] for _, rec in stream.records.after(0)]
        assert second.stop() == 0
    finally:
        for worker in started:
            worker.close()
        store.close()
        r.close()
    # Nothing the killed worker had not written was acknowledged: all of it came again.
    assert pending >= WORKER_N - at_kill["accepted"], (pending, at_kill)
    assert counts["accepted"] == WORKER_N and counts["rejected"] == 0, counts
    assert counts["in"] == sum(counts[o] for o in ("accepted", "rejected", "duplicate",
                                                  "filtered", "late", "dropped")), counts
    assert sorted(records) == sorted(f"{i + 1}-0" for i in range(WORKER_N))  # each once
