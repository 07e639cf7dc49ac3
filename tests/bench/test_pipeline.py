"""`streamdash bench pipeline` on a small generated workload."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from streamdash.bench.pipeline import CONTRACT_TOTALS, run_rounds
from streamdash.bench.pipeline_reference import reference_loop
from streamdash.bench.pipeline_report import format_report, format_rounds
from streamdash.bench.pipeline_run import run_pipeline
from tests.cli.invoke import in_process
from tests.pipeline.workload import contract_totals, generate

ROOT = Path(__file__).resolve().parents[2]


def write_workload(path: Path, n: int) -> list[bytes]:
    lines = generate(n)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return lines


def write_config_without_dedup(tmp_path: Path) -> Path:
    """Settings whose totals differ from the contract's (no dedup, no °F→°C)."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("schema:\n  key: id\n  event_time: ts\n  fields: {id: str, sensor: str, "
                   "ts: timestamp, value: {type: float, nullable: true}, unit: str}\n"
                   "transforms: [late, {window: {size: 10, key: sensor, field: value}}]\n")
    return cfg


def test_pipeline_and_reference_agree_with_the_contract_loop(tmp_path):
    """Both the benchmarked pipeline and the hand-written loop reproduce the contract totals."""
    data = tmp_path / "w.jsonl"
    lines = write_workload(data, 5000)
    expected = contract_totals(lines)["totals"]
    result = run_pipeline(str(data))
    assert result["totals"] == expected and result["accounting_ok"]
    assert result["batches"] == 5 and result["batch_p99_ms"] >= result["batch_p50_ms"] > 0
    assert reference_loop(str(data))["totals"] == expected
    assert set(CONTRACT_TOTALS) == set(expected)


def test_reference_loop_times_batches_and_can_keep_records(tmp_path):
    """The loop times each batch as the pipeline run does; keeping records changes no total."""
    data = tmp_path / "w.jsonl"
    lines = write_workload(data, 2500)
    plain = reference_loop(str(data), batch_size=1000)
    held = reference_loop(str(data), retain=300, batch_size=1000)
    assert plain["totals"] == held["totals"] == contract_totals(lines)["totals"]
    assert plain["batches"] == held["batches"] == 3
    assert held["retain"] == 300 and plain["retain"] == 0
    assert plain["batch_max_ms"] >= plain["batch_p99_ms"] >= plain["batch_p50_ms"] > 0


def test_cli_prints_figures_and_checks_totals(tmp_path):
    """The command prints records/s, batch p50/p99 and RSS, and exits 0 when totals match."""
    data = tmp_path / "w.jsonl"
    write_workload(data, 3000)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "streamdash.cli", "bench", "pipeline", "--file",
                           str(data), "--reference", "--json"], capture_output=True, text=True,
                          env=env, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["totals_ok"] and result["expected"] == result["reference"]["totals"]
    assert result["records_per_s"] > 0 and result["peak_rss_mib"] > 0
    assert "ratio_vs_reference" in result and "ratio_vs_reference_retaining" in result
    assert result["reference_retaining"]["retain"] == 10_000
    assert result["reference_retaining"]["totals"] == result["reference"]["totals"]
    text = format_report(str(data), result)
    assert "p99" in text and "OK (exact)" in text and "keeping the newest 10,000" in text


def test_cli_exits_non_zero_when_totals_differ(tmp_path, capsys, monkeypatch):
    """A pipeline configured differently from the contract fails the totals check (the
    command in this process: the one above runs it as a real process)."""
    data = tmp_path / "w.jsonl"
    write_workload(data, 2000)
    cfg = write_config_without_dedup(tmp_path)
    proc = in_process(capsys, monkeypatch, "bench", "pipeline", "--file", str(data), "--config",
                      str(cfg), "--reference")
    assert proc.returncode == 1 and "MISMATCH" in proc.stdout


def test_rounds_interleave_fresh_processes_and_report_medians(tmp_path):
    """--rounds N runs pipeline, loop and loop-keeping-records N times in fresh processes and
    reports every round, the median ratio and its range; totals are checked every round."""
    data = tmp_path / "w.jsonl"
    lines = write_workload(data, 2000)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "streamdash.cli", "bench", "pipeline", "--file",
                           str(data), "--rounds", "2", "--json"], capture_output=True, text=True,
                          env=env, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    expected = contract_totals(lines)["totals"]
    assert result["totals_ok"] and len(result["rounds"]) == 2
    for r in result["rounds"]:
        assert r["pipeline"]["totals"] == r["loop"]["totals"] == expected
        assert r["loop_keeping"]["retain"] == 10_000 and r["loop"]["retain"] == 0
        assert r["ratio"] == r["pipeline"]["records_per_s"] / r["loop"]["records_per_s"]
    s = result["summary"]
    assert s["ratio_min"] <= s["ratio_median"] <= s["ratio_max"]
    text = format_rounds(result)
    assert "median" in text and "OK (exact, every round)" in text and len(text.splitlines()) == 8


def test_rounds_flag_a_pipeline_that_disagrees_with_the_loop(tmp_path, monkeypatch):
    """A round whose pipeline totals differ from the loop's fails the totals check."""
    data = tmp_path / "w.jsonl"
    write_workload(data, 1500)
    cfg = write_config_without_dedup(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    args = argparse.Namespace(file=str(data), config=str(cfg), batch_size=500, rounds=1,
                              no_gc_tuning=False)
    result = run_rounds(args)
    assert not result["totals_ok"] and not result["rounds"][0]["totals_ok"]
    assert "MISMATCH" in format_rounds(result)
