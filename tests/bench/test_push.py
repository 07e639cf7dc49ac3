"""`streamdash bench push`: its CLI wiring, its report, and short runs on real brokers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from streamdash.bench.push import render, run_mqtt, run_redis, run_reference
from streamdash.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def test_push_is_a_bench_subcommand():
    """`bench push` takes --kind, --url, --messages, --qos, --batch-size, --runs."""
    args = build_parser(bench="push").parse_args(
        ["bench", "push", "--kind", "mqtt", "--url", "mqtt://127.0.0.1:1", "--qos", "1"])
    assert (args.kind, args.qos, args.messages, args.runs) == ("mqtt", 1, 100_000, 3)


def test_report_has_each_run_medians_and_the_ratio_to_the_pipeline():
    """One line per run, the median per kind, and each kind against the pipeline alone."""
    run = {"messages": 10, "visible": 10, "seconds": 1.0, "records_per_cpu_s": 20}
    text = render([{**run, "kind": "pipeline only", "records_per_s": 40},
                   {**run, "kind": "redis", "records_per_s": 10}])
    assert "redis: median 10 records/s" in text and "redis / pipeline only: 0.25" in text


@pytest.fixture
def package_on_path(monkeypatch):
    """The publisher child imports this checkout's package."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT),
                                                                    os.environ.get("PYTHONPATH")])))


def test_short_runs_see_every_message(redis_url, mosquitto_server, package_on_path):
    """2,000 readings from a stream, and over MQTT QoS 1 from a child publisher, all reach
    the ring; the pipeline-only yardstick accepts them all too."""
    assert run_reference(2_000, 500)["visible"] == 2_000
    redis = run_redis(redis_url, 2_000, 500)
    assert redis["visible"] == 2_000 and redis["counts"]["accepted"] == 2_000
    mqtt = run_mqtt(mosquitto_server.url, 2_000, 500, 1)
    assert mqtt["visible"] == 2_000 and mqtt["publisher_per_s"] > 0


@pytest.mark.parametrize("gc_flag", [[], ["--no-gc-tuning"]])
def test_the_command_prints_the_report(redis_url, capsys, gc_flag):
    """`streamdash bench push --kind redis` prints the report and exits 0: every reading
    arrived; the garbage collector, tuned as `streamdash run` tunes it unless
    --no-gc-tuning, is as it was afterwards."""
    import gc

    from streamdash.cli import main
    # Another test in this process may have frozen objects (a frozen set cannot be partly
    # thawed, so the command leaves a caller's frozen objects frozen): start from none.
    gc.unfreeze()
    before = gc.get_threshold(), gc.get_freeze_count()
    assert main(["bench", "push", "--kind", "redis", "--url", redis_url, "--messages", "500",
                 "--runs", "1", "--batch-size", "100", *gc_flag]) == 0
    out = capsys.readouterr().out
    assert "redis: median" in out and "redis / pipeline only:" in out
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
