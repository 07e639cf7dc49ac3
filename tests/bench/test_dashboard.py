"""Tests for streamdash.bench.dashboard (``streamdash bench dashboard``), on a tiny scale."""

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
    """`streamdash bench dashboard` prints tick costs and viewer latencies from real HTTP."""
    status = main(["bench", "dashboard", "--points", "300", "--ticks", "2", "--runs", "1",
                   "--viewers", "3", "--refresh", "0.5", "--duration", "1", "--threads", "2"])
    out = capsys.readouterr().out
    assert status == 0
    assert "100 new points/tick" in out and "1000 new points/tick" in out
    assert "Load test: 3 viewers" in out and "request p95" in out
    assert "server CPU" in out and "nan" not in out


def test_fake_records_are_realistic():
    """Benchmark records look like the simulator's (5 sensors, ISO times, numeric values)."""
    recs = bench.fake_records(50, start=1_700_000_000.0)
    assert len(recs) == 50 and len({r["sensor"] for r in recs}) == 5
    assert all(isinstance(r["temperature"], float) and r["ts"].endswith("Z") for r in recs)
