"""A takeover for real: two ``streamdash worker`` processes for one stream on a redis-server,
an HTTP feed on loopback that serves the same records at every poll (as a snapshot API does),
and ``kill -9`` of the writer while it holds processed records it has not written yet.

What must hold (issue 15, keyed state on takeover): the standby takes the stream within the
lease TTL; it restores the dead worker's dedup keys, watermark and open window, so the records
served again are not counted twice, the records the dead worker processed but never wrote are
accepted exactly once, and the window opened under the dead worker is closed by the new one
with all its values; the accounting identity holds across the move.

Bounds: ``FLUSH`` (each worker writes every ``FLUSH`` s), ``TTL`` (the lease), the feed polled
every 0.2 s, and the time processes take to start on a loaded machine (``START_TIMEOUT``).
"""

from __future__ import annotations

import json
import os
import signal
import time

import orjson
import pytest
import redis

from streamdash.models import utc_iso
from tests.helpers import wait_until, within
from tests.httpserver import ScriptedServer, json_reply

from .roles import START_TIMEOUT, Role, role_env

TTL = 3.0  # state.lease_ttl
FLUSH = 4.0  # state.flush_interval: the window in which the writer holds unwritten records
POLL = 0.2  # source.interval (role_env)
T0 = 1_700_000_000.0  # a multiple of the window size: [T0, T0 + 1000) is one window
OUTCOMES = ("accepted", "rejected", "duplicate", "filtered", "late", "dropped")
pytestmark = pytest.mark.xdist_group("roles")  # several subprocesses each: one at a time


def rec(i: int, ts: float | None = None) -> dict:
    return {"id": i, "key": f"k{i % 3}", "value": float(i), "ts": T0 + i if ts is None else ts}


class Store:
    """The stream's keys in Redis, read as the test needs them."""

    def __init__(self, url: str, prefix: str):
        self.client = redis.Redis.from_url(url)
        self.key = lambda part: f"{prefix}:default:{part}"

    def pulse(self, field: str):
        raw = self.client.hget(self.key("pulse"), field)
        return None if raw is None else (raw.decode() if field == "worker" else orjson.loads(raw))

    def counters(self) -> dict:
        return (self.pulse("metrics") or {}).get("counters", {})

    def keyed(self) -> dict:
        return orjson.loads(self.client.get(self.key("keyed")))["pipeline"]["rules"]

    def windows(self) -> list[dict]:
        return [orjson.loads(f[b"d"]) for _, f in self.client.xrange(self.key("windows"))]


def opened_under_a(store: Store) -> list[dict]:
    """The closed windows of [T0, T0 + 1000), the one opened under the first worker."""
    return [w for w in store.windows() if w["start"] == utc_iso(T0)]


@pytest.fixture
def feed():
    with ScriptedServer() as server:
        body: list[list[dict]] = [[]]
        server.route("/feed", lambda _req: json_reply({"items": body[0]}))
        server.body = body
        yield server


def test_a_killed_writer_s_keyed_state_carries_over_to_the_standby(tmp_path, redis_url, feed):
    """kill -9 the writer right after it processed 10 new records it has not written; the
    standby takes over within the TTL, drops what the dead worker wrote as duplicates,
    accepts the 10 once, and closes the dead worker's open window with all 50 values."""
    prefix = f"takeover{os.getpid()}x{int(time.monotonic() * 1000)}"
    config = tmp_path / "streamdash.yaml"
    config.write_text(json.dumps({  # JSON is YAML
        "source": {"type": "http", "url": feed.url("/feed"), "records_path": "items"},
        "schema": {"key": "id", "event_time": "ts",
                   "fields": {"id": "int", "key": "str", "value": "float", "ts": "timestamp"}},
        # dedup's TTL outlives the jump of event time to T0 + 2000 (the keys stay remembered)
        "transforms": [{"dedup": {"key": "id", "ttl": 7200}}, {"late": {"lateness": 30}},
                       {"window": {"size": 1000, "key": "key", "field": "value",
                                   "idle_timeout": 3600}}]}))
    env = role_env(redis_url, None, STREAMDASH_STATE__LEASE_TTL=str(TTL),
                   STREAMDASH_STATE__FLUSH_INTERVAL=str(FLUSH),
                   STREAMDASH_STATE__HEARTBEAT_TTL=str(3 * FLUSH),
                   STREAMDASH_STATE__KEY_PREFIX=prefix)
    store = Store(redis_url, prefix)
    first = [rec(i) for i in range(40)] + [rec(i) for i in range(20)]  # 20 repeats inside
    feed.body[0] = first
    workers: list[Role] = []
    try:
        workers.append(Role(tmp_path, "worker", env, "--config", str(config)))
        a = workers[0]
        a.wait_answering()
        wait_until(lambda: a.get("/health").status_code == 200, START_TIMEOUT, "a writer")
        workers.append(Role(tmp_path, "worker", env, "--config", str(config)))
        b = workers[1]
        b.wait_answering()
        assert b.get("/health").json()["reasons"][0].startswith("standby: stream 'default'")
        # A has written the first poll and at least one poll again (all duplicates).
        wait_until(lambda: store.counters().get("records_duplicate", 0) >= 20 + len(first),
                   within(FLUSH, POLL), "the feed polled again and written")
        assert store.counters()["records_accepted"] == 40
        saved = store.keyed()
        assert len(saved["0:dedup"]["state"]["generations"]) >= 1
        assert sum(len(v) for _, slot in saved["2:window"]["state"]["open"]
                   for _, v in slot) == 40 and store.windows() == []
        # Right after one of A's writes, the feed gains ids 40–49: A processes them at its
        # next poll and holds them unwritten for about FLUSH seconds — then it dies.
        written = store.pulse("written_at")
        wait_until(lambda: store.pulse("written_at") != written, within(FLUSH), "a write")
        second = first + [rec(i) for i in range(40, 50)]
        feed.body[0] = second
        health: dict = {}

        def processed() -> bool:
            health.update(a.get("/health").json()["components"])
            return health["buffer"]["size"] == 50

        wait_until(processed, within(POLL), "A to process the new records")
        assert health["state"]["backlog"] > 0, "A wrote before the kill: FLUSH too short here"
        writer = store.pulse("worker")
        os.killpg(a.proc.pid, signal.SIGKILL)
        killed = time.monotonic()
        assert a.proc.wait(10) == -signal.SIGKILL
        assert store.counters()["records_accepted"] == 40  # the 10 never reached Redis
        wait_until(lambda: store.pulse("worker") not in (None, writer),
                   TTL + TTL / 3 + START_TIMEOUT, "the standby to write")
        took = time.monotonic() - killed
        print(f"take-over {took:.2f} s after kill -9 (lease_ttl {TTL:g} s)")
        assert took <= TTL + TTL / 3 + 5, took  # the TTL, one try, a loaded machine's slack
        # B polls the feed again: 0–39 are duplicates (restored keys), 40–49 accepted once.
        wait_until(lambda: store.counters().get("records_accepted") == 50,
                   within(FLUSH, POLL), "B to write what it accepted")
        assert "restored the stream's keyed state" in b.output()
        # The feed gains a record whose watermark (T0 + 1970) passes the window's end.
        feed.body[0] = second + [rec(1000, ts=T0 + 2000)]
        wait_until(lambda: len(opened_under_a(store)) >= 3, within(FLUSH, POLL),
                   "the window closed")
        assert store.counters()["records_accepted"] == 51  # 0–49 and the last, each once
        assert b.stop() == 0  # drains, closes the last window (flush), writes the final figures
    finally:
        for worker in workers:
            worker.close()
    closed = {w["key"]: w for w in opened_under_a(store)}
    assert len(opened_under_a(store)) == 3 and set(closed) == {"k0", "k1", "k2"}
    for key, w in closed.items():
        values = [float(i) for i in range(50) if f"k{i % 3}" == key]
        assert (w["count"], w["mean"], w["closed_by"]) == \
            (len(values), sum(values) / len(values), "watermark")
        assert (w["min"], w["max"]) == (min(values), max(values))
    final = store.counters()
    assert final["records_accepted"] == 51 and final.get("records_late", 0) == 0
    assert final["records_in"] == sum(final.get(f"records_{o}", 0) for o in OUTCOMES)
    assert final.get("state_keyed_rejected", 0) == 0 and final.get("state_keyed_refused", 0) == 0
