"""The split deployment for real: a ``streamdash worker`` and ``streamdash web`` processes on
one redis-server (subprocesses, free loopback ports, their own data dirs).

Bounds: the replay source plays ``N`` records at ``RATE`` a second, polled every 0.2 s; every
wait is that play time plus the time the processes take to start on a loaded 2-core machine
(``tests/roles.START_TIMEOUT``), never a guessed sleep.
"""

from __future__ import annotations

import json
import time

import pytest
from werkzeug.security import generate_password_hash

from streamdash.auth_config import hash_token
from streamdash.models import utc_iso
from streamdash.store.history import database_path, open_reader
from streamdash.store.history import open_store as open_history_store
from tests.helpers import wait_until, within

from .roles import START_TIMEOUT, Role, call_callback, counter, role_env, write_records

RATE = 400  # records a second (STREAMDASH_SOURCE__RATE in role_env)
NAMES = ("records_in", "records_accepted", "throughput_in")
pytestmark = pytest.mark.xdist_group("roles")  # several subprocesses each: one at a time


def readings(n: int, key=lambda i: f"k{i % 3}") -> list[dict]:
    start = time.time()
    return [{"id": i, "key": key(i), "value": float(i % 17), "ts": start + i / RATE}
            for i in range(n)]


@pytest.fixture
def roles(tmp_path):
    started: list[Role] = []

    def start(role: str, env: dict, *args: str) -> Role:
        process = Role(tmp_path, role, env, *args)
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()


def series_points(web: Role, **kw) -> list[tuple[str, list]]:
    """The live chart's traces (name, y values) as a first browser tick receives them."""
    answer = call_callback(web, "chart-series", **kw)
    figure = answer["response"]["chart-series"]["figure"]
    return [(t["name"], t["y"]) for t in figure["data"]]


def test_two_web_processes_serve_what_one_worker_wrote(roles, tmp_path, redis_url):
    """A worker ingests a known file; two web processes (one with two gunicorn workers) serve
    identical /api/metrics, equal to the worker's own history, and the same chart points,
    equal to the file's values per key; every record is accounted for."""
    records = readings(300)
    env = role_env(redis_url, write_records(tmp_path / "in.jsonl", records))
    worker = roles("worker", env)
    one, two = roles("web", env, "--workers", "2"), roles("web", env, "--workers", "1")
    for process in (worker, one, two):
        process.wait_answering()
    play = len(records) / RATE + START_TIMEOUT
    wait_until(lambda: counter(one, "records_in") == len(records), play, "every record in")
    # The snapshot taken after the last record (every 0.5 s) reaches Redis within a write.
    found: list = []

    def last_snapshot() -> bool:
        series = one.get("/api/metrics?name=records_in&since=10m").json()["series"]
        found[:] = [p for p in series["records_in"] if p["value"] == len(records)]
        return bool(found)

    wait_until(last_snapshot, 10, "a snapshot with every record")
    since, until = found[0]["t"] - 60, found[0]["t"] + 0.001
    query = f"/api/metrics?since={utc_iso(since)}&until={utc_iso(until)}&name=" + \
        "&name=".join(NAMES)
    answers = [web.get(query).json() for web in (one, two)]
    assert answers[0] == answers[1] and answers[0]["from"] == "redis"
    served = {n: [(p["t"], p["value"]) for p in answers[0]["series"][n]] for n in NAMES}
    reader = open_reader(f"sqlite:{database_path(str(worker.data_dir))}")
    wait_until(lambda: reader.metrics(list(NAMES), since, until, 10_000) == served, 10,
               "the worker's history to hold the same snapshots")
    points = series_points(one)
    assert points == series_points(two)
    expected: dict[str, list] = {}
    for r in records:
        expected.setdefault(r["key"], []).append(r["value"])
    assert points == list(expected.items())
    total = sum(counter(one, f"records_{o}") for o in
                ("accepted", "rejected", "duplicate", "filtered", "late", "dropped"))
    assert total == counter(one, "records_in") == len(records)
    assert counter(one, "state_records_dropped") == 0
    assert worker.stop() == 0 and one.stop() == 0 and two.stop() == 0


def test_a_redis_restart_is_said_and_recovered_from(roles, tmp_path, fresh_redis):
    """Redis stops mid-stream: the web answers /health 503 and the page says "state store
    unreachable" (no stale figures), the worker goes on ingesting into its buffer; Redis
    back: the web recovers by itself and every record arrives, none dropped."""
    rate = 200  # 3000 records: 15 s of play, so the outage falls inside it
    records = readings(3000)
    env = role_env(fresh_redis.url, write_records(tmp_path / "in.jsonl", records),
                   STREAMDASH_SOURCE__RATE=str(rate), STREAMDASH_STATE__RETRIES="0",
                   STREAMDASH_STATE__CONNECT_TIMEOUT="0.5", STREAMDASH_STATE__SOCKET_TIMEOUT="0.5")
    web = roles("web", env, "--workers", "1")
    web.wait_answering()  # before the worker: its play must not end before the outage
    worker = roles("worker", env)
    wait_until(lambda: counter(web, "records_in") > 0, START_TIMEOUT, "the first records")
    fresh_redis.stop()
    health = web.get("/health")
    assert health.status_code == 503
    assert health.json()["reasons"][0].startswith(
        f"state store unreachable (redis://127.0.0.1:{fresh_redis.port}/0)")
    assert web.get("/api/metrics").status_code == 503
    tick = call_callback(web, "client-state")["response"]
    assert tick["stale-warning"]["children"].startswith("State store unreachable")
    assert tick["status-badge"]["children"] == "DOWN"
    assert all(not f["figure"]["data"] for k, f in tick.items() if k.startswith("chart-"))
    # The worker goes on: its next write (one per flush_interval, 0.2 s by default) fails
    # within the timeouts above and says so; its backlog grows while it cannot write. (A
    # backlog alone proves nothing: records wait for the next write even with Redis up.)
    report: dict = {}

    def failing() -> bool:
        report.update(worker.get("/health").json())
        return any(r.startswith("state store failing") for r in report["reasons"])

    wait_until(failing, within(0.2, 0.5, 0.5), "the worker to say its writes fail")
    assert report["components"]["state"]["backlog"] > 0
    fresh_redis.start()
    wait_until(lambda: web.get("/health").status_code == 200, 30, "the web to recover")
    wait_until(lambda: counter(web, "records_in") == len(records),
               len(records) / rate + 30, "every record in Redis")
    assert counter(web, "state_records_dropped") == 0
    assert counter(web, "state_write_errors") >= 1
    assert counter(web, "records_accepted") + counter(web, "records_rejected") \
        + counter(web, "records_duplicate") + counter(web, "records_late") == len(records)
    assert sum(len(y) for _, y in series_points(web)) == len(records)  # charted again


def test_web_mode_keeps_the_login_and_shows_stream_text_as_text(roles, tmp_path, redis_url):
    """A web process has the same rules as the all-in-one: the page and the API need the
    login or a token, the probes do not; a key made of HTML is charted as text."""
    xss = "<img src=x onerror=alert(1)>"
    records = readings(30, key=lambda i: xss if i % 2 else "plain")
    password, token = "web-mode-password", "web-mode-token-0123456789abcdef"
    env = role_env(redis_url, write_records(tmp_path / "in.jsonl", records),
                   STREAMDASH_AUTH__USERS__OPS=generate_password_hash(password,
                                                                      "pbkdf2:sha256:1000"),
                   STREAMDASH_AUTH__API_TOKENS__SCRAPER=hash_token(token))
    worker, web = roles("worker", env), roles("web", env, "--workers", "1")
    worker.wait_answering()
    web.wait_answering()
    login, bearer = {"auth": ("ops", password)}, {"headers": {"Authorization": f"Bearer {token}"}}
    wait_until(lambda: counter(web, "records_in", **bearer) == len(records),
               len(records) / RATE + START_TIMEOUT, "every record in")
    assert web.get("/").status_code == 401 and web.get("/api/metrics").status_code == 401
    assert web.get("/health/live").status_code == 200
    assert web.get("/health/ready").status_code == 200
    assert web.get("/", **login).status_code == 200
    assert web.get("/api/metrics", **bearer).status_code == 200
    names = [name for name, _ in series_points(web, **login)]
    assert names == ["plain", "&lt;img src=x onerror=alert(1)&gt;"]
    assert password not in web.output() and token not in web.output()


def test_a_standby_worker_takes_over_a_killed_one(roles, tmp_path, redis_url):
    """Two workers for one stream: one writes, the other waits (its /health says so). kill -9
    the writer: the standby takes the stream within the lease TTL (plus its try interval),
    carries on the counters, the record ids and the dedup keys, and the accounting identity
    holds."""
    import os
    import signal

    from streamdash.config import Settings
    from streamdash.state.build import open_store

    ttl = 3.0
    env = role_env(redis_url, None, STREAMDASH_STATE__LEASE_TTL=str(ttl),
                   STREAMDASH_STATE__HEARTBEAT_TTL=str(ttl))
    first = roles("worker", env)
    first.wait_answering()
    wait_until(lambda: first.get("/health").status_code == 200, START_TIMEOUT, "a writer")
    second = roles("worker", env)
    second.wait_answering()
    standby = second.get("/health")
    assert standby.status_code == 503 and standby.json()["reasons"][0].startswith(
        "standby: stream 'default' is written by worker ")
    stream = open_store(Settings({"state": {"backend": "redis", "url": redis_url,
                                            "read_cache": 0}})).stream()
    # The writer's /health is 200 once it holds the lease, maybe before its first records
    # are written: with nothing written, no dedup key of its would be there to restore.
    wait_until(lambda: stream.counts()["in"] > 0, within(0.2, 0.2), "the writer's records")
    writer, epoch = stream.view().worker, stream.epoch
    os.killpg(first.proc.pid, signal.SIGKILL)
    killed = time.monotonic()
    before = stream.counts()
    wait_until(lambda: stream.view().worker not in (None, writer), ttl + ttl / 3 + START_TIMEOUT,
               "the standby to write")
    took = time.monotonic() - killed
    print(f"take-over {took:.2f} s after kill -9 (lease_ttl {ttl:g} s)")
    assert took <= ttl + ttl / 3 + 5, took  # the TTL, one try, and a loaded machine's slack
    wait_until(lambda: stream.counts()["in"] > before["in"], 10, "records after the take-over")
    # The standby's simulator numbers its readings from 1 again: ids the dead worker's dedup
    # keys, restored with the stream, hold — so they are dropped as duplicates.
    assert stream.counts()["duplicate"] > before["duplicate"] and stream.epoch == epoch
    assert second.get("/health").status_code == 200
    assert second.stop() == 0  # drains and writes the final figures
    counts = stream.counts()
    assert counts["in"] == sum(v for k, v in counts.items() if k != "in")


HISTORY_CONFIG = """\
schema:
  event_time: ts
  fields: {id: int, key: str, value: float, ts: timestamp}
transforms:
  - window: {size: 1, key: key, field: value}
alerts:
  interval: 0.2
  default_rules: false
  rules:
    - {name: invalid_seen, metric: invalid_rate, op: ">", threshold: 0, for: 0}
"""
SNAPSHOT_INTERVAL = 0.5  # STREAMDASH_STORAGE__SNAPSHOT_INTERVAL in role_env
WRITER_POLL = 0.2  # the history writer takes what is queued at least this often
#: The history endpoints (the snapshots: the counters compared, and a rate).
ENDPOINTS = ("/api/metrics?name=records_in&name=records_accepted&name=records_rejected"
             "&name=throughput_in&", "/api/dlq?", "/api/errors?", "/api/windows?",
             "/api/alerts?")


def history_feed(path, good: int, every: int, garbage: int):
    """``good`` readings with a reading whose value is text after every ``every``-th (the
    schema rejects it: the DLQ) and ``garbage`` lines that are not JSON (ingestion errors)."""
    lines = []
    for i, r in enumerate(readings(good)):
        lines.append(json.dumps(r))
        if i % every == every - 1:
            lines.append(json.dumps({**r, "id": -i, "value": "not a number"}))
        if i < garbage:
            lines.append("{not json")
    path.write_text("\n".join(lines) + "\n")
    return path


def history_answers(web: Role, since: float, until: float) -> dict[str, dict]:
    """Every history endpoint's answer for ``[since, until]``, as much as one page holds."""
    span = f"since={utc_iso(since)}&until={utc_iso(until)}&limit=1000"
    answers = {path.split("?")[0]: web.get(path + span).json() for path in ENDPOINTS}
    assert all(a.get("from") == "history" for a in answers.values()), answers
    return answers


def test_two_web_processes_serve_the_history_one_worker_wrote_to_postgres(
        roles, tmp_path, redis_url, postgres_dsn):
    """With storage.backend postgres (one DATABASE_URL) a worker's history — snapshots, DLQ,
    ingestion errors, closed windows, alert transitions — is what two web processes serve:
    the same answers from both, equal to PostgreSQL's rows and to the worker's counters, and
    still served by a web process started after the others stopped."""
    good, every, garbage = 240, 20, 4
    bad = good // every
    config = tmp_path / "history.yaml"
    config.write_text(HISTORY_CONFIG)
    feed = history_feed(tmp_path / "in.jsonl", good, every, garbage)
    env = role_env(redis_url, feed, STREAMDASH_STORAGE__BACKEND="postgres",
                   DATABASE_URL=postgres_dsn)
    worker = roles("worker", env, "--config", str(config))
    one = roles("web", env, "--config", str(config), "--workers", "2")
    two = roles("web", env, "--config", str(config), "--workers", "1")
    for process in (worker, one, two):
        process.wait_answering()
    wait_until(lambda: counter(one, "records_in") == good + bad,
               (good + bad + garbage) / RATE + START_TIMEOUT, "every record in")
    # While the worker runs: the snapshot taken after the last record is in PostgreSQL within
    # a snapshot interval and a writer's poll, and both webs page the same snapshots up to it.
    found: list = []

    def last_snapshot() -> bool:
        answer = one.get("/api/metrics?name=records_in&since=10m").json()
        points = answer.get("series", {}).get("records_in", [])  # 503 before the first write
        found[:] = [p["t"] for p in points if p["value"] == good + bad]
        return bool(found)

    wait_until(last_snapshot, within(SNAPSHOT_INTERVAL, WRITER_POLL), "the last snapshot")
    query = f"/api/metrics?since={utc_iso(found[0] - 60)}&until={utc_iso(found[0] + 0.001)}"
    live = one.get(query).json()
    assert live["from"] == "history" and live == two.get(query).json()

    assert worker.stop() == 0  # the final snapshot, the open windows: flushed at stop
    since, until = found[0] - 60, time.time() + 1
    answers = history_answers(one, since, until)
    assert history_answers(two, since, until) == answers
    store = open_history_store(postgres_dsn)
    store.start_readers()
    try:
        reader = store.reader
        final = reader.snapshots(since, until)[-1]
        rows = {t: reader.events(t, since, until, 1000)
                for t in ("dlq", "errors", "windows", "alerts")}
    finally:
        store.stop_readers()
    counts = {n: counter(one, n) for n in ("records_in", "records_accepted",
                                          "records_rejected")}
    assert counts == {"records_in": good + bad, "records_accepted": good,
                      "records_rejected": bad}
    series = answers["/api/metrics"]["series"]
    assert {n: series[n][-1]["value"] for n in counts} == {n: final[n] for n in counts} == counts
    dlq = answers["/api/dlq"]
    assert dlq["count"] == len(rows["dlq"]) == bad == dlq["total"]
    assert [i["record"]["id"] for i in dlq["items"]] == [r["record"]["id"] for r in rows["dlq"]]
    errors = answers["/api/errors"]
    assert errors["count"] == len(rows["errors"]) == counter(one, "ingest_errors") == garbage
    assert all("not JSON" in item["message"] for item in errors["items"])
    windows = answers["/api/windows"]
    assert windows["count"] == len(rows["windows"]) > 0
    assert sum(w["count"] for w in windows["items"]) == good  # every accepted value, once
    alerts = answers["/api/alerts"]
    assert alerts["count"] == len(rows["alerts"]) > 0
    assert "firing" in {a["state"] for a in alerts["items"] if a["rule"] == "invalid_seen"}
    # A web process that starts after the others stopped serves the same history.
    assert one.stop() == 0 and two.stop() == 0
    three = roles("web", env, "--config", str(config), "--workers", "1")
    three.wait_answering()
    assert history_answers(three, since, until) == answers
    chart = call_callback(three, "chart-history")["response"]["chart-history"]["figure"]
    assert "persisted in PostgreSQL" in chart["layout"]["title"]["text"]
    assert any(y for trace in chart["data"] for y in trace.get("y") or [])  # the snapshots
