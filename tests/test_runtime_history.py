"""Tests of the runtime's persistence wiring: real sources, a real HTTP server, real SQLite and
PostgreSQL (each test runs on both backends)."""

import json
import time

from streamdash.config import Settings
from streamdash.runtime import Runtime
from streamdash.testing import ListSource
from tests.httpserver import ScriptedServer, json_reply

API_KEY = "APIKEY-SHOULD-NOT-LEAK-42"


def test_quarantine_and_final_snapshot_reach_the_history_and_survive_restart(history_backend):
    """Rejected records are persisted with reasons, stop() flushes a final snapshot matching the
    counts, and a second runtime on the same history keeps the first run's history."""
    good = [{"id": i, "value": float(i), "key": "a"} for i in range(10)]
    bad = [{"value": 1.0, "key": "a"}, {"value": 2.0, "key": "b"}]  # no id: invalid
    settings = Settings(history_backend.settings({"source.interval": 0.1,
                                                  "storage": {"snapshot_interval": 0.2}}))
    first = Runtime(settings, ListSource([good, bad]))
    first.start()
    deadline = time.monotonic() + 10
    while first.counts()["in"] < 12 and time.monotonic() < deadline:
        time.sleep(0.02)
    first.stop()
    counts = first.counts()
    reader = history_backend.reader()
    dlq = reader.events("dlq", 0, time.time() + 1)
    assert len(dlq) == counts["rejected"] == first.quarantine.total >= 2
    assert all(row["reasons"] and row["record"]["key"] in ("a", "b") for row in dlq)
    first_run = reader.snapshots(0, time.time() + 1)
    last = first_run[-1]
    assert last["records_in"] == counts["in"] and last["records_rejected"] == counts["rejected"]
    assert first.history.status()["dropped"] == 0

    second = Runtime(settings, ListSource([good]))
    second.start()
    second.stop()
    assert len(reader.runs()) == 2
    assert reader.count("dlq") == len(dlq)
    assert reader.snapshots(0, last["ts"]) == first_run  # the first run's history is intact
    assert len(reader.snapshots(0, time.time() + 1)) > len(first_run)
    series = second.metric_history(["records_in"], 0, time.time() + 1)["records_in"]
    assert (last["ts"], last["records_in"]) in series  # what the dashboard's charts read


def test_closed_windows_are_persisted_and_shown_again_after_a_restart(history_backend):
    """Windows closed by the pipeline reach the history (stamped when they closed) and a
    runtime restarted on the same history shows them again in its recent-windows view."""
    t0 = 1_717_200_000.0  # 2024-06-01: replayed old data is kept by closing time, not pruned
    records = [{"id": str(i), "ts": t0 + i, "value": float(i), "sensor": "s1"}
               for i in range(25)]
    settings = Settings(history_backend.settings({
                         "source.interval": 0.1,
                         "schema": {"key": "id", "event_time": "ts",
                                    "fields": {"id": "str", "ts": "timestamp", "value": "float",
                                               "sensor": "str"}},
                         "transforms": [{"window": {"size": 10, "key": "sensor",
                                                    "field": "value"}}]}))
    first = Runtime(settings, ListSource([records]))
    first.start()
    deadline = time.monotonic() + 10
    while first.counts()["in"] < 25 and time.monotonic() < deadline:
        time.sleep(0.02)
    first.stop()  # flushes the windows still open
    emitted = first.windows.recent()
    assert first.windows.total == len(emitted) == 3  # [0,10) [10,20) [20,30)
    rows = history_backend.reader().events("windows", time.time() - 60, time.time() + 1)
    assert sorted(r["data"]["start"] for r in rows) == sorted(w["start"] for w in emitted)
    assert {r["key"] for r in rows} == {"s1"}
    assert sum(r["data"]["count"] for r in rows) == 25

    second = Runtime(settings, ListSource([]))
    assert second.windows.recent() == emitted and second.windows.total == 0
    second.start()
    second.stop()


def test_metric_history_without_storage_comes_from_memory():
    """Without a data dir, metric_history serves the reporter's in-memory snapshots."""
    runtime = Runtime(Settings({"source.interval": 0.1}), ListSource([[{"id": 1}]]))
    runtime.start()
    deadline = time.monotonic() + 10
    while runtime.counts()["in"] < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    runtime.stop()
    points = runtime.metric_history(["records_in"], 0, time.time() + 1)["records_in"]
    assert runtime.history is None and points[-1][1] == 1


def test_ingestion_errors_of_a_real_http_source_are_persisted_without_the_key(history_backend,
                                                                              tmp_path):
    """A failing HTTP source's ingestion errors land in the history, with the API key
    masked."""
    with ScriptedServer() as server:
        # Answers 500 and echoes the query string, key included (as careless servers do).
        server.route("/data", lambda req: json_reply({"error": "boom", "echo": req.path}, 500))
        settings = Settings(history_backend.settings({"source": {
            "type": "http", "url": server.url("/data"),
            "params": {"api_key": API_KEY}, "interval": 0.1, "max_tries": 1}}))
        runtime = Runtime(settings)
        runtime.start()
        deadline = time.monotonic() + 10
        while runtime.source_health.snapshot()["failures"] < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        runtime.stop()
    assert API_KEY in server.hits("/data")[0].path  # the key was sent, and echoed back
    reader = history_backend.reader()
    errors = reader.events("errors", 0, time.time() + 1)
    assert len(errors) >= 2 and all(e["source"] for e in errors)
    assert any("500" in json.dumps(e) for e in errors)
    assert API_KEY not in json.dumps(errors)
    for path in tmp_path.glob("history.sqlite3*"):  # the database and any WAL left behind
        assert API_KEY.encode() not in path.read_bytes()


def test_metric_history_with_a_step_is_bucketed_by_the_database(history_backend):
    """With a history, ``step`` asks the database for one averaged point per bucket; memory
    snapshots (no history) come as they are."""
    settings = Settings(history_backend.settings({"storage": {"snapshot_interval": 3600}}))
    runtime = Runtime(settings, ListSource([]))
    runtime.start()
    for _ in range(5):
        runtime.reporter.snapshot()
    runtime.stop()
    now = time.time()
    raw = runtime.metric_history(["records_in"], now - 60, now)["records_in"]
    bucketed = runtime.metric_history(["records_in"], now - 60, now, step=60)["records_in"]
    assert len(raw) == 6 and len(bucketed) == 1 and bucketed[0][1] == 0
    memory = Runtime(Settings(), ListSource([]))
    memory.reporter.snapshot()
    memory.reporter.snapshot()
    points = memory.metric_history(["records_in"], 0, time.time() + 1, step=60)["records_in"]
    assert len(points) == 2
