"""Source flags of `streamdash run`, down to a real CLI process ingesting from a local API."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from streamdash.cli import build_parser, main, settings_from_args
from streamdash.errors import ConfigError
from streamdash.runtime import Runtime
from tests.helpers import wait_until, within
from tests.httpserver import json_reply

ROOT = Path(__file__).resolve().parents[2]


def settings_for(*argv: str):
    return settings_from_args(build_parser().parse_args(["run", *argv]))


def test_flags_map_into_the_source_section():
    """--url, --records-path, --field, --param and --header become source settings."""
    s = settings_for("--source", "http", "--url", "http://127.0.0.1:9/api", "--records-path",
                     "data.items", "--field", "price=amount:float", "--field", "ts=t:timestamp_ms",
                     "--param", "limit=5", "--param", "q=a=b", "--header", "X-Api-Key: k=1:2",
                     "--header", "Accept=application/json")
    src = s.section("source")
    assert src["type"] == "http" and src["url"] == "http://127.0.0.1:9/api"
    assert src["records_path"] == "data.items"
    assert src["fields"] == {"price": "amount:float", "ts": "t:timestamp_ms"}
    assert src["params"] == {"limit": "5", "q": "a=b"}
    assert src["headers"] == {"X-Api-Key": "k=1:2", "Accept": "application/json"}


def test_replay_flags_and_preset_overrides():
    """Replay flags set path, pacing and loop; a preset takes --url and --param overrides."""
    s = settings_for("--source", "replay", "--file", "x.jsonl", "--speed", "4", "--time-field",
                     "ts", "--loop")
    src = s.section("source")
    assert (src["path"], src["speed"], src["time_field"], src["loop"]) == ("x.jsonl", 4.0, "ts",
                                                                           True)
    s = settings_for("--source", "open-meteo", "--param", "latitude=48.85")
    assert s.section("source")["params"] == {"latitude": "48.85"} and "loop" not in \
        s.section("source")


def test_push_source_flags():
    """--topic (repeated), --qos, --stream and --group set the push sources' settings, and
    the result builds the source."""
    src = settings_for("--source", "mqtt", "--url", "mqtt://127.0.0.1:1883", "--topic",
                       "sensors/{sensor}/reading", "--topic", "tele/+/SENSOR", "--qos", "0"
                       ).section("source")
    assert src["topic"] == ["sensors/{sensor}/reading", "tele/+/SENSOR"] and src["qos"] == 0
    s = settings_for("--source", "redis-stream", "--url", "redis://127.0.0.1:6379",
                     "--stream", "sensors", "--group", "dash")
    assert (s.section("source")["stream"], s.section("source")["group"]) == ("sensors", "dash")
    from streamdash.sources import build_source
    assert build_source(s).describe()["group"] == "dash"


VALIDATED = {"ETag": '"v1"', "Last-Modified": "Wed, 21 Oct 2026 07:28:00 GMT"}
FEATURES = {"features": [{"id": "q1", "properties": {"time": 1_700_000_000_000, "mag": 1.2},
                          "geometry": {"coordinates": [-120.0, 36.0, 5.0]}}]}


@pytest.mark.parametrize("flags, conditional", [((), True), (("--no-conditional",), False)])
def test_no_conditional_flag_stops_validators_reaching_the_server(server, flags, conditional):
    """With --no-conditional the feed never sees If-None-Match / If-Modified-Since (without it,
    every poll after the first sends them); the preset's other settings stay."""
    server.route("/feed", json_reply(FEATURES, headers=VALIDATED))
    s = settings_for("--source", "usgs-earthquakes", "--url", server.url("/feed"), *flags,
                     "--interval", "0.1")
    assert s.section("source").get("conditional", True) is conditional
    rt = Runtime(s.with_overrides({"source.min_interval": 0.1}))
    with rt:
        wait_until(lambda: len(server.hits("/feed")) >= 3, within(3 * rt.fetch_interval()),
                   "3 polls")
    later = server.hits("/feed")[1:]
    for header in ("If-None-Match", "If-Modified-Since"):
        assert all((header in r.headers) is conditional for r in later), header


def test_no_conditional_is_refused_for_a_source_without_it():
    """--no-conditional on the simulator is a one-line config error naming the key."""
    s = settings_for("--no-conditional")
    with pytest.raises(ConfigError) as err:
        Runtime(s)
    assert err.value.key == "source.conditional"


def test_malformed_pair_flags_are_config_errors(capsys):
    """A --field without '=' is refused with a one-line message and exit status 2."""
    with pytest.raises(ConfigError) as err:
        settings_for("--field", "price")
    assert err.value.key == "--field"
    assert main(["check-config", "/nonexistent.yaml"]) == 2
    capsys.readouterr()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_run_ingests_from_a_json_api(server, tmp_path):
    """`streamdash run --source http --url … --field …` ingests and reports health."""
    server.route("/api", json_reply({"data": {"items": [{"amount": "1.5", "n": "a"},
                                                        {"amount": "2.5", "n": "b"}]}}))
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("STREAMDASH_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamdash.cli", "run", "--source", "http", "--url",
         server.url("/api"), "--records-path", "data.items", "--field", "price=amount:float",
         "--field", "name=n:str", "--header", "X-Api-Key: cli-secret-value-1", "--interval",
         "0.2", "--port", str(port), "--data-dir", str(tmp_path / "data"), "--log-format",
         "json"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        health = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    health = json.loads(r.read())
                if health["components"]["source"].get("stats", {}).get("records", 0) >= 4:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert health is not None, "the dashboard never answered"
        source = health["components"]["source"]
        assert source["kind"] == "http" and source["stats"]["records"] >= 4
        assert source["headers"] == {"X-Api-Key": "***"}
        assert server.hits("/api")[0].headers["X-Api-Key"] == "cli-secret-value-1"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert "cli-secret-value-1" not in out and "cli-secret-value-1" not in json.dumps(health)
