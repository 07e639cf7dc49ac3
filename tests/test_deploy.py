"""Tests of the deployment: the Procfile's web command (gunicorn + gunicorn.conf.py) for real.

Each test starts the exact ``web:`` command of the Procfile in a shell, as Heroku does, with
``PORT`` set to a free port and the checkout on ``PYTHONPATH``; data goes to a temporary dir.
The Procfile binds 0.0.0.0, so each also sets the two variables the docs tell a Heroku user to
set: a user's password hash and an API token's hash.
"""

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.security import generate_password_hash

from streamdash import create_app
from streamdash.auth_config import hash_token
from streamdash.config import Settings
from streamdash.store.history import SqliteReader, StorageUnavailable, database_path
from streamdash.testing import ListSource
from tests.helpers import wait_until, within
from tests.httpserver import ScriptedServer, json_reply
from tests.roles import call_callback

ROOT = Path(__file__).resolve().parents[1]
WEBHOOK_TOKEN = "WEBHOOKTOKEN12345"
PASSWORD = "OPS-PASSWORD-NEVER-PRINTED"
API_TOKEN = "SCRAPE-TOKEN-NEVER-PRINTED-0123456789"
#: The two variables of the docs (a cheap hash method: the tests need speed, not strength).
AUTH_ENV = {"STREAMDASH_AUTH__USERS__OPS": generate_password_hash(PASSWORD, "pbkdf2:sha256:1000"),
            "STREAMDASH_AUTH__API_TOKENS__PROMETHEUS": hash_token(API_TOKEN)}
LOGIN = ("ops", PASSWORD)


def web_command() -> str:
    """The Procfile's ``web:`` command line."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("Procfile has no web process")


def free_port() -> int:
    """A port nobody listens on (127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Web:
    """The Procfile's web process, started in its own session, output captured to files."""

    def __init__(self, tmp_path: Path, data_dir: Path, extra_env=None, args: str = ""):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PORT": str(self.port), "PYTHONPATH": str(ROOT),
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               "STREAMDASH_DATA_DIR": str(data_dir), "STREAMDASH_LOG__FORMAT": "json",
               "STREAMDASH_SOURCE__INTERVAL": "0.2",
               "STREAMDASH_STORAGE__SNAPSHOT_INTERVAL": "0.5",
               "STREAMDASH_ALERTS__WEBHOOK__URLS": f"http://127.0.0.1:9/hooks/{WEBHOOK_TOKEN}",
               **AUTH_ENV, **(extra_env or {})}
        env = {k: v for k, v in env.items() if v is not None}  # extra_env None: unset
        env.pop("STREAMDASH_CONFIG", None)
        self.stdout = (tmp_path / f"out-{self.port}.log").open("w+")
        self.stderr = (tmp_path / f"err-{self.port}.log").open("w+")
        self.proc = subprocess.Popen(["bash", "-c", f"exec {web_command()} {args}"], cwd=ROOT,
                                     env=env, stdout=self.stdout, stderr=self.stderr,
                                     start_new_session=True)

    def output(self) -> str:
        """Everything written to stdout and stderr so far."""
        text = ""
        for f in (self.stdout, self.stderr):
            f.flush()
            f.seek(0)
            text += f.read()
        return text

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until /health/ready answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"web process exited:\n{self.output()[-3000:]}"
            try:
                if requests.get(self.url + "/health/ready", timeout=2).status_code == 200:
                    return
            except requests.RequestException:  # bound but the worker is still booting
                pass
            time.sleep(0.1)
        raise AssertionError(f"not ready in {timeout} s:\n{self.output()[-3000:]}")

    def get(self, path: str, **kw) -> requests.Response:
        """GET ``path`` logged in as the configured user (``auth=None``: anonymous)."""
        kw.setdefault("auth", LOGIN)
        return requests.get(self.url + path, timeout=10, **kw)

    def kill(self, sig: int) -> None:
        """Send ``sig`` to the whole process group (master and worker)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def close(self) -> None:
        self.kill(signal.SIGKILL)
        self.proc.wait(10)
        self.stdout.close()
        self.stderr.close()


@pytest.fixture
def web(tmp_path):
    """Start web processes; kill any still running at the end."""
    started = []

    def start(data_dir=None, **kw):
        w = Web(tmp_path, data_dir or tmp_path / "data", **kw)
        started.append(w)
        return w

    yield start
    for w in started:
        w.close()


def test_procfile_web_serves_scrapes_and_stops_cleanly(web, tmp_path):
    """The Procfile's web command serves /, a callback and /metrics, keeps one worker when asked
    for more (TTIN), and exits 0 on SIGTERM in under 10 s with its last metrics snapshot in
    SQLite and only JSON log lines, secret-free."""
    data = tmp_path / "data"
    w = web(data, extra_env={"STREAMDASH_LOG__LEVEL": "DEBUG"})  # the whole config: DEBUG
    w.wait_ready()
    page = w.get("/")
    assert page.status_code == 200 and "_dash-config" in page.text
    assert "response" in call_callback(w, "client-state", auth=LOGIN)  # the refresh tick
    health = w.get("/health").json()
    assert health["status"] in ("ok", "degraded") and health["components"]["storage"]["ok"]
    assert w.get("/", auth=None).status_code == 401  # bound to 0.0.0.0: a login is required
    assert w.get("/metrics", auth=None).status_code == 401
    scrape = w.get("/metrics", auth=None, headers={"Authorization": f"Bearer {API_TOKEN}"})
    families = {f.name: f for f in text_string_to_metric_families(scrape.text)}
    assert families["streamdash_records_in"].samples[0].value > 0
    assert "process_resident_memory_bytes" in families or "python_info" in families
    if shutil.which("promtool"):
        check = subprocess.run(["promtool", "check", "metrics"], input=scrape.text, text=True,
                               capture_output=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
    os.kill(w.proc.pid, signal.SIGTTIN)  # "one more worker, please": must stay at one
    # The master handles the signal on its next loop (gunicorn's arbiter sleeps at most 1 s).
    wait_until(lambda: "keeping 1 worker" in w.output(), within(1.0), "the master's answer")
    workers = psutil.Process(w.proc.pid).children()
    assert len(workers) == 1, workers
    assert w.get("/health/ready").status_code == 200
    term_at = time.time()
    w.kill(signal.SIGTERM)
    code = w.proc.wait(15)
    took = time.time() - term_at
    assert code == 0 and took < 10, (code, took)
    reader = SqliteReader(database_path(data))
    last = reader.snapshots(0, time.time() + 1)[-1]
    assert last["ts"] >= term_at  # the final snapshot, taken during shutdown, reached the store
    assert last["records_in"] > 0 and reader.runs()[-1]["stopped"] is not None
    out = w.output()
    lines = [line for line in out.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
    config = next(r for r in records if r["msg"] == "config loaded")["config"]
    assert config["alerts"]["webhook"]["urls"] == "http://127.0.0.1:9/***"
    assert any(r["msg"] == "runtime stopped" for r in records)
    assert WEBHOOK_TOKEN not in out
    assert PASSWORD not in out and API_TOKEN not in out
    assert AUTH_ENV["STREAMDASH_AUTH__USERS__OPS"] not in out  # hashes are masked too


def test_procfile_without_login_refuses_to_start_in_one_line(web, tmp_path):
    """Without the auth variables the Procfile's 0.0.0.0 bind is refused: exit 2 and one line
    naming the variable to set, before any worker starts."""
    w = web(extra_env=dict.fromkeys(AUTH_ENV))
    assert w.proc.wait(60) == 2
    out = w.output()
    errors = [line for line in out.splitlines() if "configuration error" in line]
    assert len(errors) == 1 and "STREAMDASH_AUTH__USERS__<NAME>" in errors[0], out
    assert "Traceback" not in out and "Booting worker" not in out


def test_procfile_with_auth_mode_none_serves_openly_with_a_warning(web, tmp_path):
    """``auth.mode: none`` serves without a login, and says so as a WARNING at start."""
    w = web(extra_env={**dict.fromkeys(AUTH_ENV), "STREAMDASH_AUTH__MODE": "none"})
    w.wait_ready()
    assert w.get("/api/dlq", auth=None).status_code == 200
    records = [json.loads(line) for line in w.output().splitlines() if line.startswith("{")]
    assert any(r["level"] == "WARNING" and "WITHOUT a login" in r["msg"] for r in records)


def backend_env(history_backend):
    """The environment a platform gives the web process for this history: a data dir, or
    ``storage.backend: postgres`` with the ``DATABASE_URL`` Heroku Postgres sets."""
    if history_backend.name == "postgres":
        return {"STREAMDASH_STORAGE__BACKEND": "postgres",
                "DATABASE_URL": history_backend.location}
    return {}


def test_kill_9_then_restart_keeps_history(web, tmp_path, history_backend):
    """After kill -9 mid-ingestion the store passes its integrity check, keeps its history and a
    restart on the same history carries on (and shows the pre-crash history in the API).
    While the first process writes, another app (this process) serves what it wrote."""
    data = Path(history_backend.settings().get("data_dir", tmp_path / "data"))
    env = backend_env(history_backend)
    first = web(data, extra_env=env)
    first.wait_ready()
    reader = history_backend.reader()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if reader.count("snapshots") >= 3:
                break
        except StorageUnavailable:  # the writer is still creating the schema
            pass
        time.sleep(0.1)
    if history_backend.name == "postgres":  # a second app on the same history, reading
        other = create_app(Settings(history_backend.settings()), ListSource([]), start=False)
        body = other.server.test_client().get("/api/metrics?name=records_in&since=10m").json
        assert len(body["series"]["records_in"]) >= 3
    first.kill(signal.SIGKILL)
    first.proc.wait(10)
    crashed_at = time.time()
    before = reader.snapshots(0, crashed_at)
    assert len(before) >= 3
    if history_backend.name == "sqlite":
        conn = sqlite3.connect(database_path(data))  # read-write: replays the WAL
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
    second = web(data, extra_env=env)
    second.wait_ready()
    body = second.get("/api/metrics?name=records_in&since=10m").json()
    times = [p["t"] for p in body["series"]["records_in"]]
    assert [s["ts"] for s in before] == [t for t in times if t <= crashed_at]
    health = second.get("/health")
    assert health.status_code == 200
    assert health.json()["components"]["storage"]["backend"] == history_backend.name
    runs = reader.runs()
    assert len(runs) == 2 and runs[0]["stopped"] is None  # the crash left its run open
    second.kill(signal.SIGTERM)
    assert second.proc.wait(15) == 0
    assert reader.runs()[1]["stopped"] is not None
    assert history_backend.integrity_check() == "ok"


def test_more_than_one_worker_is_refused(web, tmp_path):
    """Asking gunicorn for two workers stops it at start with a message saying why."""
    w = web(args="--workers 2")
    code = w.proc.wait(60)
    assert code != 0
    assert "workers must be 1" in w.output()


API_KEY = "APIKEY-NEVER-PRINTED-7781"
HEADER_VALUE = "Bearer HEADER-NEVER-PRINTED-1234"


class Upstream(ScriptedServer):
    """A local JSON API on ``/data``: one record per request, or HTTP 500 while ``failing``."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = False
        self.route("/data", lambda req: (
            json_reply({"error": f"bad {req.path}"}, 500) if self.failing
            else json_reply([{"id": time.time(), "value": 1.0, "key": "a"}])))
        self.start()


def test_configured_api_key_never_appears_in_any_output(web, tmp_path):
    """With an HTTP source using an API key and an auth header, failing and recovering, no log
    line (DEBUG, JSON) and no HTTP answer ever carries the key or the header value."""
    upstream = Upstream()
    w = web(extra_env={"STREAMDASH_SOURCE__TYPE": "http",
                       "STREAMDASH_SOURCE__URL": upstream.url("/data"),
                       "STREAMDASH_SOURCE__PARAMS__API_KEY": API_KEY,
                       "STREAMDASH_SOURCE__HEADERS__AUTHORIZATION": HEADER_VALUE,
                       "STREAMDASH_SOURCE__MAX_TRIES": "1", "STREAMDASH_LOG__LEVEL": "DEBUG"})
    try:
        w.wait_ready()
        upstream.failing = True
        deadline = time.monotonic() + 20
        while w.get("/health").json()["components"]["source"]["consecutive_failures"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        answers = [w.get(p).text for p in ("/health", "/metrics", "/api/errors?since=5m",
                                           "/api/dlq", "/api/metrics?since=5m", "/")]
        w.kill(signal.SIGTERM)
        assert w.proc.wait(15) == 0
    finally:
        upstream.stop()
    assert json.loads(answers[2])["count"] >= 2  # the failures were recorded (key masked)
    out = w.output()
    records = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert any(r["level"] == "DEBUG" for r in records)
    assert any(r["level"] in ("WARNING", "ERROR") and "500" in json.dumps(r) for r in records)
    for text in [out, *answers]:
        assert API_KEY not in text and HEADER_VALUE not in text
        assert "HEADER-NEVER-PRINTED" not in text
