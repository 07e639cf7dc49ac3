"""``streamdash worker``: a pipeline writing its state to Redis, its health on a side port,
and the refusals of a worker or a web process that could not work."""

from __future__ import annotations

import requests

from streamdash.cli.main import main
from streamdash.cli.roles import web_workers
from streamdash.errors import ConfigError, ServeError
from streamdash.probe import HealthServer
from streamdash.state import MemoryStream
from streamdash.state.build import open_store
from streamdash.testing import ListSource
from streamdash.worker import Worker
from tests.helpers import wait_until
from tests.state.harness import recs, redis_settings


def test_a_worker_ingests_writes_and_answers_its_probes(redis_url):
    """Records go through the pipeline into Redis; /health, /health/live and /health/ready
    answer on the side port (nothing else does); stop ends everything in time."""
    settings = redis_settings(redis_url).with_overrides(
        {"source.interval": 0.1, "worker.health_port": 0})
    worker = Worker(settings, ListSource([recs(4)]))
    stream = open_store(settings).stream()
    worker.start()
    try:
        # Bound: one poll (0.1 s) and one write after the batch (flush_interval 0.2 s).
        wait_until(lambda: stream.records.last_seq == 4, 5, "the records in Redis")
        health = requests.get(worker.health.url + "/health", timeout=5)
        assert health.status_code == 200 and health.json()["components"]["state"]["ok"]
        assert requests.get(worker.health.url + "/health/ready", timeout=5).status_code == 200
        assert requests.get(worker.health.url + "/health/live", timeout=5).json() == \
            {"status": "ok"}
        other = requests.get(worker.health.url + "/api/metrics", timeout=5)
        assert other.status_code == 404 and "only" in other.json()["error"]
    finally:
        assert worker.stop(5)


def test_a_probe_off_loopback_answers_the_status_alone(redis_url):
    """Without a login, the full report stays on loopback; elsewhere /health is the status."""
    from streamdash.config import Settings
    from streamdash.runtime import Runtime

    runtime = Runtime(Settings(), ListSource([]))
    server = HealthServer(MemoryStream(runtime), "0.0.0.0", 0)
    try:
        assert server.answer("/health") == (503, {"status": "down"})
        assert server.answer("/health/live") == (200, {"status": "ok"})
    finally:
        server.stop()
    with HealthServer(MemoryStream(runtime), "127.0.0.1", 0) as local:
        code, report = local.answer("/health?verbose=1")
        assert code == 503 and "components" in report
        busy = int(local.url.rsplit(":", 1)[1])
        try:
            HealthServer(MemoryStream(runtime), "127.0.0.1", busy)
            raise AssertionError("bound a port in use")
        except ServeError as exc:
            assert f"cannot serve the worker's health on 127.0.0.1:{busy}" in str(exc)


def test_roles_refuse_the_memory_backend(monkeypatch, capsys):
    """A worker with nothing to write to, or a web process with nothing to read, stops at
    once: one line naming state.backend, exit status 2."""
    monkeypatch.delenv("STREAMDASH_STATE__BACKEND", raising=False)
    monkeypatch.delenv("STREAMDASH_CONFIG", raising=False)
    for role in ("worker", "web"):
        assert main([role, "--data-dir", ""]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("streamdash: configuration error: state.backend: ")
        assert "state.backend: redis" in err[-1]


def test_web_workers_come_from_the_flag_or_the_platform():
    """--workers, else WEB_CONCURRENCY (Heroku's), else 2; 1–64, a bad value named."""
    assert web_workers(3, {"WEB_CONCURRENCY": "5"}) == 3
    assert web_workers(None, {"WEB_CONCURRENCY": "5"}) == 5 and web_workers(None, {}) == 2
    for given, env, key in ((0, {}, "--workers"), (None, {"WEB_CONCURRENCY": "many"},
                                                    "WEB_CONCURRENCY"), (65, {}, "--workers")):
        try:
            web_workers(given, env)
            raise AssertionError("accepted")
        except ConfigError as exc:
            assert exc.key == key


def test_run_worker_stops_cleanly_on_sigterm(redis_url):
    """run_worker serves until SIGTERM, then drains, writes the last state, releases the
    stream and returns 0 (signal handlers restored)."""
    import os
    import signal
    import threading

    settings = redis_settings(redis_url).with_overrides(
        {"source.interval": 0.1, "worker.health_port": 0})
    stream = open_store(settings).stream()
    before = signal.getsignal(signal.SIGTERM)

    def stop_when_written() -> None:
        wait_until(lambda: stream.records.last_seq == 4, 10, "the records in Redis")
        os.kill(os.getpid(), signal.SIGTERM)

    from streamdash.worker import run_worker

    threading.Thread(target=stop_when_written, daemon=True).start()
    assert run_worker(settings, source=ListSource([recs(4)])) == 0
    assert signal.getsignal(signal.SIGTERM) is before
    assert not stream.pulse().running and stream.counts()["accepted"] == 4
    import redis

    assert redis.Redis.from_url(redis_url).get("t:default:lease") is None  # released
