"""Tests for ``streamdash metrics`` (streamdash.cli.metrics): the history read without a server,
from SQLite and from PostgreSQL."""

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
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(history_backend):
    """A history (each backend's) holding three snapshots 60 s apart, ending 2 minutes ago;
    the arguments that read it."""
    t0 = float(int(time.time()) - 300)
    with history_backend.history() as history:
        for i in range(3):
            history.record_snapshot({"throughput_in": 10.0 * i, "queue_depth": i,
                                     "latency_p95": None}, ts=t0 + 60 * i)
    return history_backend.cli_args(), t0


def run(*argv):
    """Run the metrics command in-process; returns (exit status, stdout)."""
    args = build_parser().parse_args(["metrics", *argv])
    out = io.StringIO()
    return cmd_metrics(args, out), out.getvalue()


def test_csv_has_a_row_per_snapshot_and_a_column_per_name(data_dir):
    """CSV output: a header, then one row per snapshot with the requested metrics."""
    where, t0 = data_dir
    code, out = run(*where, "--since", "1h", "--name", "throughput_in",
                    "--name", "queue_depth,latency_p95", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and rows[0] == ["ts", "throughput_in", "queue_depth", "latency_p95"]
    assert [r[1:] for r in rows[1:]] == [["0.0", "0", ""], ["10.0", "1", ""], ["20.0", "2", ""]]


def test_json_and_table_formats(data_dir):
    """JSON gives series per name; the table aligns columns and shows missing values as '-'."""
    where, t0 = data_dir
    code, out = run(*where, "--since", "270s", "--format", "json",
                    "--name", "queue_depth")
    body = json.loads(out)
    assert code == 0 and [p["value"] for p in body["series"]["queue_depth"]] == [1, 2]
    code, out = run(*where, "--since", "1h", "--name",
                    "throughput_in,latency_p95")
    lines = out.splitlines()
    assert lines[0].split() == ["ts", "throughput_in", "latency_p95"]
    assert len(lines) == 4 and lines[3].split()[1:] == ["20", "-"]


def test_empty_range_says_so(data_dir):
    """A range without snapshots prints the header and a note, exit 0."""
    where, _ = data_dir
    code, out = run(*where, "--since", "1m")
    assert code == 0 and "no snapshots between" in out


@pytest.mark.parametrize("argv, message", [
    (["--since", "yesterday"], "since"), (["--name", "bogus"], "unknown metric"),
    (["--limit", "0"], "--limit"), (["--since", "1m", "--until", "2m"], "after until")])
def test_bad_arguments_exit_2_with_a_message(data_dir, capsys, argv, message):
    """Bad arguments print one line naming the problem and exit with status 2."""
    where, _ = data_dir
    code, _ = run(*where, *argv)
    assert code == 2 and message in capsys.readouterr().err


def test_missing_history_exit_1(tmp_path, capsys):
    """A data dir without history is a run-time failure (exit 1) reported in one line."""
    assert main(["metrics", "--data-dir", str(tmp_path / "none")]) == 1
    assert "no history database" in capsys.readouterr().err


def test_unreachable_postgres_exit_1_without_the_password(capsys):
    """A PostgreSQL history nobody listens for is a run-time failure (exit 1) in one line
    naming the URL, its password masked."""
    url = f"postgresql://app:PW-NEVER-PRINTED@127.0.0.1:{free_port()}/db"
    assert main(["metrics", "--history", url]) == 1
    err = capsys.readouterr().err
    assert "cannot read postgresql://app:***@127.0.0.1" in err and "PW-NEVER" not in err
    assert len(err.strip().splitlines()) == 1


def test_console_command_reads_the_store_without_a_server(data_dir, history_backend):
    """``python -m streamdash.cli metrics`` in another process prints the persisted history,
    found as the settings say: a data dir, or (PostgreSQL) ``storage.backend`` and the
    ``DATABASE_URL`` a platform sets."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("STREAMDASH_") and k != "DATABASE_URL"}
    env["PYTHONPATH"] = str(ROOT)
    if history_backend.name == "postgres":
        env.update(STREAMDASH_STORAGE__BACKEND="postgres", DATABASE_URL=history_backend.location)
    else:
        env["STREAMDASH_DATA_DIR"] = history_backend.settings()["data_dir"]
    done = subprocess.run([sys.executable, "-m", "streamdash.cli", "metrics", "--since", "1h",
                           "--format", "csv", "--name", "throughput_in"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows[0] == ["ts", "throughput_in"]
    assert [r[1] for r in rows[1:]] == ["0.0", "10.0", "20.0"]
