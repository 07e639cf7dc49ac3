"""Tests for ``streamdash metrics`` (streamdash.cli.metrics): the history read without a server."""

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streamdash.cli import build_parser, main
from streamdash.cli.metrics import cmd_metrics
from streamdash.store.history import History, database_path

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path):
    """A data dir whose history holds three snapshots 60 s apart, ending 2 minutes ago."""
    t0 = float(int(time.time()) - 300)
    with History(database_path(tmp_path)) as history:
        for i in range(3):
            history.record_snapshot({"throughput_in": 10.0 * i, "queue_depth": i,
                                     "latency_p95": None}, ts=t0 + 60 * i)
    return tmp_path, t0


def run(*argv):
    """Run the metrics command in-process; returns (exit status, stdout)."""
    args = build_parser().parse_args(["metrics", *argv])
    out = io.StringIO()
    return cmd_metrics(args, out), out.getvalue()


def test_csv_has_a_row_per_snapshot_and_a_column_per_name(data_dir):
    """CSV output: a header, then one row per snapshot with the requested metrics."""
    path, t0 = data_dir
    code, out = run("--data-dir", str(path), "--since", "1h", "--name", "throughput_in",
                    "--name", "queue_depth,latency_p95", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and rows[0] == ["ts", "throughput_in", "queue_depth", "latency_p95"]
    assert [r[1:] for r in rows[1:]] == [["0.0", "0", ""], ["10.0", "1", ""], ["20.0", "2", ""]]


def test_json_and_table_formats(data_dir):
    """JSON gives series per name; the table aligns columns and shows missing values as '-'."""
    path, t0 = data_dir
    code, out = run("--data-dir", str(path), "--since", "270s", "--format", "json",
                    "--name", "queue_depth")
    body = json.loads(out)
    assert code == 0 and [p["value"] for p in body["series"]["queue_depth"]] == [1, 2]
    code, out = run("--data-dir", str(path), "--since", "1h", "--name",
                    "throughput_in,latency_p95")
    lines = out.splitlines()
    assert lines[0].split() == ["ts", "throughput_in", "latency_p95"]
    assert len(lines) == 4 and lines[3].split()[1:] == ["20", "-"]


def test_empty_range_says_so(data_dir):
    """A range without snapshots prints the header and a note, exit 0."""
    path, _ = data_dir
    code, out = run("--data-dir", str(path), "--since", "1m")
    assert code == 0 and "no snapshots between" in out


@pytest.mark.parametrize("argv, message", [
    (["--since", "yesterday"], "since"), (["--name", "bogus"], "unknown metric"),
    (["--limit", "0"], "--limit"), (["--since", "1m", "--until", "2m"], "after until")])
def test_bad_arguments_exit_2_with_a_message(data_dir, capsys, argv, message):
    """Bad arguments print one line naming the problem and exit with status 2."""
    path, _ = data_dir
    code, _ = run("--data-dir", str(path), *argv)
    assert code == 2 and message in capsys.readouterr().err


def test_missing_history_exit_1(tmp_path, capsys):
    """A data dir without history is a run-time failure (exit 1) reported in one line."""
    assert main(["metrics", "--data-dir", str(tmp_path / "none")]) == 1
    assert "no history database" in capsys.readouterr().err


def test_console_command_reads_the_store_without_a_server(data_dir):
    """``python -m streamdash.cli metrics`` in a subprocess prints the persisted history."""
    path, _ = data_dir
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env = {k: v for k, v in env.items() if not k.startswith("STREAMDASH_")}
    done = subprocess.run([sys.executable, "-m", "streamdash.cli", "metrics", "--data-dir",
                           str(path), "--since", "1h", "--format", "csv", "--name",
                           "throughput_in"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows[0] == ["ts", "throughput_in"]
    assert [r[1] for r in rows[1:]] == ["0.0", "10.0", "20.0"]
