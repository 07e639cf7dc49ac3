"""`streamdash dlq export`: quarantined records as JSON Lines, from the history or an app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from streamdash.cli import main
from streamdash.config import Settings
from streamdash.runtime import Runtime
from streamdash.testing import ListSource
from tests.httpserver import ScriptedServer, json_reply

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"id": "1", "sensor": "s", "ts": "2024-06-01T00:00:00.000Z", "temperature": 1.0}


def run_cli(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "streamdash.cli", "dlq", "export", *args],
                          capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)


def test_export_from_the_history_database(history_backend, tmp_path):
    """Records quarantined by a runtime with a history (either backend) are exported with their
    reasons by another process."""
    from streamdash.sources.simulator import SimulatedSource

    source = ListSource([[GOOD, {**GOOD, "id": "2", "ts": "not-a-time"}, "junk",
                          {**GOOD, "id": "3", "temperature": "abc"}]])
    source.hints = SimulatedSource.hints
    rt = Runtime(Settings(history_backend.settings({"source.interval": 0.1})), source)
    with rt:
        deadline = time.monotonic() + 10
        while rt.quarantine.total < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    out_file = tmp_path / "dlq.jsonl"
    proc = run_cli(*history_backend.cli_args(), "--out", str(out_file))
    assert proc.returncode == 0, proc.stderr
    items = [json.loads(line) for line in out_file.read_text().splitlines()]
    rules = sorted(r["rule"] for item in items for r in item["reasons"])
    assert rules == ["object", "timestamp", "type"]
    assert {item["source"] for item in items} == {"list"}
    assert all(item["at"].endswith("Z") for item in items)
    assert "exported 3" in proc.stderr


def test_export_to_stdout_with_a_limit(history_backend, capfdbinary):
    """Without --out the newest --limit records go to standard output."""
    with history_backend.history() as history:
        history.on_rejections([{"at": f"2024-06-01T00:00:0{i}.000Z", "source": "s",
                                "reasons": [{"field": "v", "rule": "type", "value": str(i)}],
                                "record": {"i": i}} for i in range(3)])
    assert main(["dlq", "export", *history_backend.cli_args(), "--since",
                 "2024-01-01T00:00:00Z", "--limit", "2"]) == 0
    lines = capfdbinary.readouterr().out.splitlines()
    assert [json.loads(line)["record"]["i"] for line in lines] == [1, 2]


def test_export_blanks_the_secrets_the_settings_name(history_backend, tmp_path, capfdbinary):
    """A key an upstream echoed into a quarantined record is exported as ***, like /api/dlq
    answers it; the rest of the record stays."""
    with history_backend.history() as history:
        history.on_rejections([{"at": "2024-06-01T00:00:00.000Z", "source": "s",
                                "reasons": [{"field": "v", "rule": "type",
                                             "value": "'APPID-SECRET-42'"}],
                                "record": {"note": "echo APPID-SECRET-42", "city": "Oslo"}}])
    config = tmp_path / "c.yaml"
    config.write_text("source:\n  type: http\n  url: http://127.0.0.1:9/x\n"
                      "  params: {appid: APPID-SECRET-42, city: Oslo}\n")
    assert main(["dlq", "export", *history_backend.cli_args(), "--config", str(config),
                 "--since", "2024-01-01T00:00:00Z"]) == 0
    (line,) = capfdbinary.readouterr().out.splitlines()
    item = json.loads(line)
    assert b"APPID-SECRET-42" not in line
    assert item["record"] == {"note": "echo ***", "city": "Oslo"}
    assert item["reasons"][0]["value"] == "'***'"


def test_export_without_a_database_fails_clearly(tmp_path, capsys):
    """No history database: exit 1 with one line naming the path; a bad limit is exit 2."""
    assert main(["dlq", "export", "--data-dir", str(tmp_path)]) == 1
    assert "no history database" in capsys.readouterr().err
    assert main(["dlq", "export", "--data-dir", str(tmp_path), "--limit", "0"]) == 2
    assert main(["dlq", "export", "--data-dir", str(tmp_path), "--since", "soonish"]) == 2


DLQ_PAGE = {"count": 2, "items": [
    {"ts": "2024-06-01T00:00:02.000Z", "source": "sim",
     "reasons": [{"field": "ts", "rule": "timestamp", "value": "'x'"}], "record": {"n": 2}},
    {"ts": "2024-06-01T00:00:01.000Z", "source": "sim",
     "reasons": [{"field": "v", "rule": "type", "value": "'a'"}], "record": {"n": 1}},
]}


def test_export_from_a_running_app_url(capfdbinary):
    """--from-url reads /api/dlq of a running app and writes its items oldest first."""
    with ScriptedServer() as server:
        server.route("/api/dlq", json_reply(DLQ_PAGE))
        code = main(["dlq", "export", "--from-url", server.url(""), "--since", "1h"])
    assert code == 0
    items = [json.loads(line) for line in capfdbinary.readouterr().out.splitlines()]
    assert [i["record"]["n"] for i in items] == [1, 2]
    (hit,) = server.hits("/api/dlq")
    assert hit.path.startswith("/api/dlq?") and "since=1h" in hit.path


def test_unreachable_url_fails_clearly(capsys):
    """An app that is not there: exit 1 with the URL in the message."""
    assert main(["dlq", "export", "--from-url", "http://127.0.0.1:9"]) == 1
    assert "127.0.0.1:9/api/dlq" in capsys.readouterr().err


def test_export_from_url_follows_the_pages(tmp_path, capfdbinary):
    """--from-url follows /api/dlq's 'next' cursors: 2,500 rows (pages of 1,000, some rows
    sharing a second) are exported once each, oldest first, and --limit stops early."""
    import sqlite3

    from streamdash.store.history import History, SqliteStore, database_path
    from tests.server.test_routes import Server

    with History(SqliteStore(database_path(tmp_path))):
        pass
    t0 = time.time() - 600
    with sqlite3.connect(database_path(tmp_path)) as conn:
        conn.executemany("INSERT INTO dlq (ts, source, reasons, record) VALUES (?, ?, ?, ?)",
                         ((t0 + i // 7, "s", "[]", json.dumps({"n": i})) for i in range(2500)))
    conn.close()
    server = Server(Runtime(Settings({"data_dir": str(tmp_path)}), ListSource([])))
    try:
        assert main(["dlq", "export", "--from-url", server.url, "--since", "1h"]) == 0
        items = [json.loads(line) for line in capfdbinary.readouterr().out.splitlines()]
        assert [i["record"]["n"] for i in items] == list(range(2500))
        assert main(["dlq", "export", "--from-url", server.url, "--limit", "1500"]) == 0
        items = [json.loads(line) for line in capfdbinary.readouterr().out.splitlines()]
        assert [i["record"]["n"] for i in items] == list(range(1000, 2500))
    finally:
        server.close()


def test_export_finds_the_default_data_dir_as_metrics_does(tmp_path, monkeypatch, capfdbinary):
    """Without --data-dir, `dlq export` reads ./streamdash-data (where `streamdash run`
    writes), exactly like `streamdash metrics`; both fail alike when it is missing."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("STREAMDASH_")]:
        monkeypatch.delenv(name)
    assert main(["dlq", "export"]) == 1 and main(["metrics"]) == 1
    err = capfdbinary.readouterr().err.decode()
    assert err.count(str(Path("streamdash-data") / "history.sqlite3")) == 2, err
    rt = Runtime(Settings({"source.interval": 0.1, "data_dir": "streamdash-data"}),
                 ListSource([[GOOD, "junk"]]))
    with rt:
        deadline = time.monotonic() + 10
        while rt.quarantine.total < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert main(["dlq", "export"]) == 0 and main(["metrics", "--format", "csv"]) == 0
    out = capfdbinary.readouterr().out.decode().splitlines()
    assert json.loads(out[0])["record"] == "junk"
