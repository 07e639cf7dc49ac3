"""Tests for streamdash.bench.split_servers: ``bench dashboard`` with several web processes
reading one worker's state in a real redis-server (a tiny, short load; no speed assertions)."""

import re

import pytest

from streamdash.bench import dashboard as bench
from streamdash.cli import main
from tests.servers import redis_binary

from .test_dashboard import load_args

pytestmark = pytest.mark.xdist_group("roles")  # several server processes: one at a time


def test_two_web_processes_on_redis_answer_every_viewer(capsys):
    """--web-workers 2 starts redis-server, a worker and two web processes: every request of
    the viewers is answered, and the row shows the CPU of web, worker and redis and what
    Redis costs per tick answered."""
    redis_binary()  # skips (locally) or fails (CI) when redis-server is not installed
    status = main(["bench", "dashboard", "--points", "300", "--ticks", "1", "--runs", "1",
                   "--viewers", "3", "--web-workers", "2", "--refresh", "0.5",
                   "--duration", "2", "--threads", "2"])
    out = capsys.readouterr().out
    assert status == 0
    rows = [line for line in out.splitlines() if "request p50" in line]
    assert len(rows) == 1, out
    row = rows[0]
    assert row.lstrip().startswith("2 web+redis") and "failed 0 " in row, row
    assert int(re.search(r"(\d+)/s", row).group(1)) > 0  # requests answered
    for part in ("web", "worker", "redis"):
        assert re.search(rf"{part} \d+\.\d\d ms/req \(\d+ % of a core\)", row), row
    cost = re.search(r"redis per tick: (\d+\.\d) commands, (\d+\.\d+) ms CPU \((\d+) ticks\)",
                     row)
    assert cost and float(cost.group(1)) > 0 and int(cost.group(3)) > 0, row
    assert "exited" not in row and "did not" not in row, row  # no part failed
    assert re.search(r"→ 2 web process\(es\) reading redis-server: served [03] viewers", out)


def test_without_redis_server_the_split_deployment_is_refused_in_one_line(capsys, monkeypatch,
                                                                           tmp_path):
    """No redis-server on PATH: one line naming the package, exit 2, before anything runs."""
    monkeypatch.setenv("PATH", str(tmp_path))
    status = main(["bench", "dashboard", "--web-workers", "1,2,4", "--viewers", "3"])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == ""
    assert captured.err.startswith("streamdash: configuration error: --web-workers: 2,4 web "
                                   "process(es) reading Redis need redis-server")
    assert "apt-get install redis-server" in captured.err
    assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err
    assert main(["bench", "dashboard", "--split", "--viewers", "3"]) == 2  # 1 as well
    assert "--web-workers: 1 web process(es)" in capsys.readouterr().err


def test_a_redis_server_that_fails_to_start_is_a_figure(capsys, monkeypatch, tmp_path):
    """A redis-server that exits at start is the row's note (its last line), and the count
    is not served; no traceback, nothing left running."""
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\necho 'FATAL CONFIG FILE ERROR (bench test)'\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    bench.print_load(load_args(split=True))
    out = capsys.readouterr().out
    assert "1 web+redis" in out
    assert "redis-server exited with status 1: FATAL CONFIG FILE ERROR (bench test)" in out
    assert "served 0 viewers at most; not 5" in out
