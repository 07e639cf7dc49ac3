"""`streamdash dlq export`: quarantined records as JSON Lines, from the history or an app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from streamdash.config import Settings
from streamdash.runtime import Runtime
from streamdash.testing import ListSource

ROOT = Path(__file__).resolve().parents[1]
GOOD = {"id": "1", "sensor": "s", "ts": "2024-06-01T00:00:00.000Z", "temperature": 1.0}


def run_cli(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "streamdash.cli", "dlq", "export", *args],
                          capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)


def test_export_from_the_history_database(tmp_path):
    """Records quarantined by a runtime with a data_dir are exported with their reasons."""
    from streamdash.sources.simulator import SimulatedSource

    source = ListSource([[GOOD, {**GOOD, "id": "2", "ts": "not-a-time"}, "junk",
                          {**GOOD, "id": "3", "temperature": "abc"}]])
    source.hints = SimulatedSource.hints
    rt = Runtime(Settings({"source.interval": 0.1, "data_dir": str(tmp_path)}), source)
    with rt:
        deadline = time.monotonic() + 10
        while rt.quarantine.total < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    out_file = tmp_path / "dlq.jsonl"
    proc = run_cli("--data-dir", str(tmp_path), "--out", str(out_file))
    assert proc.returncode == 0, proc.stderr
    items = [json.loads(line) for line in out_file.read_text().splitlines()]
    rules = sorted(r["rule"] for item in items for r in item["reasons"])
    assert rules == ["object", "timestamp", "type"]
    assert {item["source"] for item in items} == {"list"}
    assert all(item["at"].endswith("Z") for item in items)
    assert "exported 3" in proc.stderr
    stdout = run_cli("--data-dir", str(tmp_path), "--limit", "1")
    assert len(stdout.stdout.splitlines()) == 1


def test_export_without_a_database_fails_clearly(tmp_path):
    """No history database: exit 1 with one line naming the path."""
    proc = run_cli("--data-dir", str(tmp_path))
    assert proc.returncode == 1 and "no history database" in proc.stderr


class _Api(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server API
        body = json.dumps({"count": 2, "items": [
            {"ts": "2024-06-01T00:00:02.000Z", "source": "sim",
             "reasons": [{"field": "ts", "rule": "timestamp", "value": "'x'"}], "record": {"n": 2}},
            {"ts": "2024-06-01T00:00:01.000Z", "source": "sim",
             "reasons": [{"field": "v", "rule": "type", "value": "'a'"}], "record": {"n": 1}},
        ]}).encode()
        self.server.paths.append(self.path)
        status = 200 if self.path.startswith("/api/dlq") else 404
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_export_from_a_running_app_url():
    """--from-url reads /api/dlq of a running app and writes its items oldest first."""
    server = HTTPServer(("127.0.0.1", 0), _Api)
    server.paths = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        proc = run_cli("--from-url", f"http://127.0.0.1:{server.server_port}", "--since", "1h")
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stderr
    items = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [i["record"]["n"] for i in items] == [1, 2]
    assert server.paths[0].startswith("/api/dlq?") and "since=1h" in server.paths[0]


def test_unreachable_url_fails_clearly():
    """An app that is not there: exit 1 with the URL in the message."""
    proc = run_cli("--from-url", "http://127.0.0.1:9")
    assert proc.returncode == 1 and "127.0.0.1:9/api/dlq" in proc.stderr
