"""`streamdash bench hostile`: its CLI wiring, its report, and one short case end to end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from streamdash.bench.hostile import report, run_case
from streamdash.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def test_hostile_is_a_bench_subcommand_with_seconds_and_cases():
    """`bench hostile` parses --seconds (default 60) and repeatable --case."""
    args = build_parser(bench="hostile").parse_args(["bench", "hostile", "--case", "2"])
    assert args.seconds == 60.0 and args.cases == [2]


def test_report_names_each_case_its_memory_and_target():
    """The report prints peak RSS and growth per case and whether a target was met."""
    text = report({1: {"peak_mib": 410.0, "base_mib": 50.0, "growth_mib": 30.0, "rejected": 9},
                   2: {"peak_mib": 90.0, "base_mib": 80.0, "growth_mib": 60.0},
                   3: {"error": "boom"}}, 20)
    assert "case 1: invalid flood" in text and "peak RSS 410.0" in text
    assert "target peak < 500 MiB: met" in text and "target growth < 50 MiB: MISSED" in text
    assert "FAILED: boom" in text and "rejected 9" in text


@pytest.fixture
def package_on_path(monkeypatch):
    """Children import this checkout's package (not an installed copy)."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT),
                                                                    os.environ.get("PYTHONPATH")])))


def test_retry_after_case_runs_and_polling_resumes(package_on_path):
    """Case 3 for 3 s in a child process: paused polls are not ok, polling resumes in time."""
    res = run_case(3, 3.0)
    assert "error" not in res, res
    assert "ok" not in res["status_while_paused"] and res["resumed_after_s"] is not None
    assert res["resumed_after_s"] < 3.0 and res["peak_mib"] > 0
