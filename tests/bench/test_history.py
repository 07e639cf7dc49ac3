"""Tests for streamdash.bench.history: the persistence benchmark runs and reports its figures."""

import argparse

from streamdash.bench.history import register, report, run


def test_benchmark_writes_everything_and_reports():
    """A small run writes every record (nothing dropped) and the report names the figures."""
    figures = run(records=300, batch=50)
    assert figures["records"] == 300 and figures["dropped"] == 0
    assert figures["rows_per_second"] > 0 and figures["enqueue_us_per_record"] > 0
    line = report(figures)
    assert "µs/record" in line and "rows/s" in line


def test_registers_as_a_bench_subcommand():
    """``register`` adds ``history`` with a ``--records`` option to a bench group."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["history", "--records", "10"])
    assert args.records == 10 and callable(args.func)
