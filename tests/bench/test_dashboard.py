"""Tests for streamdash.bench.dashboard (``streamdash bench dashboard``), on a tiny scale."""

import argparse
import re

from streamdash.bench import dashboard as bench
from streamdash.cli import main


def test_replay_measures_incremental_ticks():
    """Replayed ticks after the first load send only new points (small) and cost time."""
    result = bench.replay_ticks(points=500, new_per_tick=10, ticks=3)
    reset_ms, reset_bytes = result["reset"]
    assert len(result["series"]) == 3 and reset_ms > 0
    assert all(b < reset_bytes / 5 for _, b in result["series"])
    assert all(ms > 0 and b > 0 for ms, b in result["total"])


def test_cli_runs_replay_and_load_test(capsys):
    """`streamdash bench dashboard` prints tick costs, then per count of viewers over real
    HTTP: latencies, failures (none here), the server's CPU and the machine's load, and the
    most viewers served."""
    status = main(["bench", "dashboard", "--points", "300", "--ticks", "2", "--runs", "1",
                   "--viewers", "2,3", "--refresh", "0.5", "--duration", "1", "--threads", "2"])
    out = capsys.readouterr().out
    assert status == 0
    assert "100 new points/tick" in out and "1000 new points/tick" in out
    rows = [line for line in out.splitlines() if "request p50" in line]
    assert len(rows) == 2 and all("failed 0 " in row and "load " in row for row in rows)
    assert all(re.search(r"request p50 \d+\.\d ms", row) for row in rows)
    assert all(re.search(r"web \d+\.\d\d ms/req \(\d+ % of a core\)", row) for row in rows)
    # Whether 3 viewers keep p95 within 100 ms depends on the machine: no speed target here.
    assert re.search(r"→ 1 web process\(es\): served [023] viewers at most", out)


def load_args(**given) -> argparse.Namespace:
    """``bench dashboard``'s arguments for a load test of 5 viewers for 1 s (``given`` over)."""
    return argparse.Namespace(**{"viewers": [5], "web_workers": [1], "runs": 1, "points": 10,
                                 "threads": 2, "rate": 20.0, "refresh": 0.5, "duration": 1.0,
                                 "request_timeout": 1.0, "p95": 100.0, "split": False,
                                 **given})


class DeadOnArrival:
    """A deployment whose server exits during start-up."""

    label = "dead"

    def start(self) -> int:
        raise RuntimeError("server exited with status 3: no worker")

    def cpu_seconds(self) -> dict[str, float]:
        return {}

    def failure(self) -> str | None:
        return "server exited with status 3: no worker"

    def warnings(self) -> list[str]:
        return []

    def stop(self) -> None:
        pass


def test_a_server_that_does_not_start_is_a_figure_not_a_traceback(capsys, monkeypatch):
    """A server that fails is reported on its row (with why) and counts as not serving."""
    monkeypatch.setattr(bench, "deployment", lambda *args: DeadOnArrival())
    bench.print_load(load_args())
    out = capsys.readouterr().out
    assert "server exited with status 3: no worker" in out
    assert "served 0 viewers at most; not 5" in out


def test_fake_records_are_realistic():
    """Benchmark records look like the simulator's (5 sensors, ISO times, numeric values)."""
    recs = bench.fake_records(50, start=1_700_000_000.0)
    assert len(recs) == 50 and len({r["sensor"] for r in recs}) == 5
    assert all(isinstance(r["temperature"], float) and r["ts"].endswith("Z") for r in recs)
