"""Tests for streamdash.wsgi in-process: settings from the environment, start/stop hooks."""

import importlib
import json
import logging
import sys

import pytest


@pytest.fixture
def wsgi(monkeypatch, tmp_path):
    """Import streamdash.wsgi afresh with a temporary data dir; undo its side effects after."""
    monkeypatch.setenv("STREAMDASH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STREAMDASH_SOURCE__INTERVAL", "0.1")
    monkeypatch.delenv("STREAMDASH_CONFIG", raising=False)
    monkeypatch.setenv("STREAMDASH_BIND", "127.0.0.1:8050")  # as gunicorn.conf.py passes it
    logger = logging.getLogger("streamdash")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    sys.modules.pop("streamdash.wsgi", None)
    module = importlib.import_module("streamdash.wsgi")
    yield module
    module.stop()
    sys.modules.pop("streamdash.wsgi", None)
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def test_import_builds_but_does_not_start(wsgi, tmp_path):
    """Importing builds the app with the environment's data dir and leaves the pipeline stopped."""
    assert not wsgi.runtime.running and wsgi.runtime.started_at is None
    assert wsgi.runtime.history.store.location == str(tmp_path / "history.sqlite3")
    wsgi.start()
    assert wsgi.runtime.running
    wsgi.stop(drain_timeout=1)
    assert not wsgi.runtime.running


def test_first_request_starts_a_never_started_runtime_once(wsgi):
    """Without the gunicorn hooks the first request starts the pipeline; a stopped one stays so."""
    client = wsgi.server.test_client()
    assert client.get("/health/live").status_code == 200
    assert wsgi.runtime.running
    wsgi.stop(drain_timeout=1)
    client.get("/health/live")
    assert not wsgi.runtime.running
    body = json.loads(client.get("/health").data)
    assert body["status"] == "down"


def test_without_gunicorns_bind_the_address_counts_as_exposed(monkeypatch, tmp_path, capsys):
    """Under a WSGI server that does not pass its bind (no STREAMDASH_BIND) the import refuses
    without a login, naming the setting; an explicit ``auth.mode: none`` imports with a
    WARNING instead."""
    from streamdash.errors import ConfigError

    monkeypatch.setenv("STREAMDASH_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("STREAMDASH_CONFIG", raising=False)
    monkeypatch.delenv("STREAMDASH_BIND", raising=False)
    logger = logging.getLogger("streamdash")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    sys.modules.pop("streamdash.wsgi", None)
    try:
        with pytest.raises(ConfigError) as err:
            importlib.import_module("streamdash.wsgi")
        assert err.value.key == "auth.users"
        sys.modules.pop("streamdash.wsgi", None)
        monkeypatch.setenv("STREAMDASH_AUTH__MODE", "none")
        module = importlib.import_module("streamdash.wsgi")
        module.stop()
        warnings = [line for line in capsys.readouterr().err.splitlines() if " WARNING " in line]
        assert any("WITHOUT a login" in line for line in warnings)
    finally:
        sys.modules.pop("streamdash.wsgi", None)
        logger.handlers[:] = saved[0]
        logger.setLevel(saved[1])
        logger.propagate = saved[2]
