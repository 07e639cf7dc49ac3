"""Tests for streamdash.bench.history_chart (the history-chart benchmark, on a small day)."""

import argparse

from streamdash.bench import history_chart as bench_history
from streamdash.dashboard.options import HISTORY_RANGES


def test_run_measures_every_range_from_sqlite():
    """A day of 10-minute snapshots: every range is read from SQLite, bounded, and a browser
    holding the current version gets 204."""
    results = bench_history.run(interval=600, repeat=1)
    assert [r["range"] for r in results] == list(HISTORY_RANGES)
    assert all(r["snapshots"] == 144 and r["held_status"] == 204 for r in results)
    # 24 h: every snapshot (the oldest may just have left the range), joined without gaps
    # although the app's own snapshot interval (10 s) is not the data's (600 s).
    assert 143 <= results[-1]["points"] <= 144 and 1 <= results[0]["points"] <= 2
    text = bench_history.report(600, results)
    assert "a day of 600 s snapshots (144 rows)" in text and text.count("HTTP 204") == 4


def test_registers_as_a_bench_subcommand(capsys):
    """``history-chart`` is added to a ``bench`` group and prints its report."""
    parser = argparse.ArgumentParser()
    bench_history.register(parser.add_subparsers())
    args = parser.parse_args(["history-chart", "--interval", "3600", "--repeat", "1"])
    assert args.func(args) == 0
    assert "24 rows" in capsys.readouterr().out
