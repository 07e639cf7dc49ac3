"""kill -9 of `streamdash run` mid-stream, then a restart: every message is processed at
least once and counted once, for each push source, on real brokers.

What the killed process had acknowledged is read from the broker side (Redis: the group's
pending list and last delivered id; MQTT: a proxy that sees each PUBACK, tests/mqtt_proxy.py).
Acknowledging only after storing means those messages were stored by the first process; the
restarted one must then store exactly all the others — no fewer (nothing lost), no more
(a message the broker sends twice meets dedup and counts as a duplicate, not again).
"""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from pathlib import Path

import redis
import yaml

from tests.helpers import wait_for, within
from tests.mqtt_helpers import publish as mqtt_publish
from tests.mqtt_helpers import readings
from tests.mqtt_proxy import AckSpy
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
        """The records_* counters from /metrics."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            text = r.read().decode()
        return {m.group(1): float(m.group(2)) for m in
                re.finditer(r"^streamdash_records_(\w+)_total (\S+)$", text, re.M)}

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
