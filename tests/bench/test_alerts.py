"""The ``streamdash bench alerts`` benchmark: each measurement runs and reports sane figures."""

from __future__ import annotations

import argparse

from streamdash.bench import alerts as bench
from streamdash.cli import build_parser, main


def test_listener_and_evaluation_figures():
    """The listener and evaluation measurements count what they ran."""
    li = bench.bench_listener(records=2000, batch=500)
    assert li["records"] == 2000 and li["us_per_record"] > 0
    ev = bench.bench_evaluate(rules=3, evaluations=20)
    assert ev["rules"] == 3 + 6 and ev["us_per_evaluation"] > 0  # 6 default rules


def test_receiver_runs_report_throughput_and_notifications():
    """A short run per receiver kind reports records/s and what the notifier did."""
    ok = bench.bench_receiver("ok", 0.5, 50, 0.1)
    assert ok["records_per_s"] > 0 and ok["fetches"] >= 2 and ok["notifications_sent"] >= 1
    hang = bench.bench_receiver("hang", 0.5, 50, 0.1)
    assert hang["records_per_s"] > 0 and hang["notifications_sent"] == 0


def test_render_and_command_line(monkeypatch, capsys):
    """The report renders every receiver; ``streamdash bench alerts`` is registered."""
    fake = {"listener": {"records": 10, "us_per_record": 1.5, "records_per_s": 6e5},
            "evaluate": {"rules": 5, "us_per_evaluation": 80.0},
            "receivers": [{"receiver": m, "records_per_s": 1000.0, "vs_no_webhook": 1.0,
                           "fetches": 10, "expected_fetches": 11, "latency_p50_ms": 1.0,
                           "latency_p99_ms": 2.0, "notifications_sent": 0,
                           "notification_errors": 0, "stop_seconds": 0.1}
                          for m in ("none", "ok", "fail", "hang")]}
    text = bench.render(fake)
    assert "80 µs per evaluation" in text and "hang" in text and "1.50 µs/record" in text
    args = build_parser().parse_args(["bench", "alerts", "--seconds", "1", "--json"])
    assert isinstance(args, argparse.Namespace) and args.seconds == 1.0
    monkeypatch.setattr(bench, "run", lambda *a: fake)
    assert main(["bench", "alerts", "--seconds", "0.1"]) == 0
    assert "receiver  records/s" in capsys.readouterr().out


def test_check_config_validates_alert_rules(tmp_path, capsys):
    """``streamdash check-config`` reports a bad alert rule by name, with exit status 2."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("alerts:\n  rules:\n    - {name: spikes, metric: nul_rate, op: '>', "
                   "threshold: 0.1}\n")
    assert main(["check-config", str(bad)]) == 2
    assert "alerts.rules[spikes].metric: unknown metric 'nul_rate'" in capsys.readouterr().err
    good = tmp_path / "good.yaml"
    good.write_text("alerts:\n  rules:\n    - {name: spikes, metric: null_rate, op: '>', "
                    "threshold: 0.1}\n")
    assert main(["check-config", str(good)]) == 0
