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


def test_backend_comparison_measures_both_and_leaves_no_schema(postgres_dsn, capsys):
    """``bench history --postgres URL`` measures snapshot writes and the 24 h queries on SQLite
    and PostgreSQL, prints a line for each, and drops the schema it wrote in."""
    import psycopg

    from streamdash.cli import main

    assert main(["bench", "history", "--postgres", postgres_dsn, "--snapshots", "60",
                 "--repeat", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["history sqlite", "history postgres"]
    assert all("60 snapshots written" in line and "24h step=5m" in line for line in lines)
    with psycopg.connect(postgres_dsn) as conn:
        schemas = [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace "
                                              "WHERE nspname LIKE 'streamdash%'")]
    assert schemas == []
