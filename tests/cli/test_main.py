"""Tests for streamdash.cli: exit codes, one-line errors, version, check-config, run."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from streamdash import __version__
from streamdash.cli import main
from tests.cli.invoke import in_process, real_process

ROOT = Path(__file__).resolve().parents[2]


def test_version(capsys):
    """--version prints the package version."""
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"streamdash {__version__}\n"


def test_version_imports_neither_dash_nor_the_http_stack():
    """`python -m streamdash --version` answers without importing dash, Flask, requests or
    gunicorn (they cost ~0.5 s; -X importtime lists every module the process imported)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "streamdash", "--version"],
                          capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout == f"streamdash {__version__}\n"
    imported = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:") and "|" in line}
    assert "streamdash.cli" in imported  # the listing is real
    heavy = {"dash", "flask", "werkzeug", "requests", "urllib3", "gunicorn", "plotly", "pandas",
             "yaml", "pydantic"}  # the settings are not read either: the package imports names
    # lazily (pydantic validates them: ~0.25 s that --version must not pay)
    assert not heavy & {name.split(".")[0] for name in imported}


def test_python_dash_m_streamdash_is_the_command():
    """`python -m streamdash` runs the same command line as `streamdash` (help, exit 0)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "streamdash", "--help"], capture_output=True,
                          text=True, env=env, timeout=60, cwd=ROOT)
    assert proc.returncode == 0 and "usage: streamdash" in proc.stdout


def every_parser(parser, path=("streamdash",)):
    """(path, parser) for the parser and every subcommand's, depth first."""
    import argparse

    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from every_parser(sub, (*path, name))


def test_every_help_states_the_exit_codes_without_rest_markup():
    """Each command's --help ends with the one exit-code convention and shows no ``markup``."""
    from streamdash.cli import EXIT_CODES, build_parser

    seen = 0
    for path, parser in every_parser(build_parser()):
        text = parser.format_help()
        assert "``" not in text and ":func:" not in text and ":class:" not in text, path
        assert " ".join(text.split()).endswith(" ".join(EXIT_CODES.split())), path
        seen += 1
    assert seen >= 8  # run, check-config, metrics, dlq, dlq export, bench and benchmarks
    assert "2 usage or configuration error" in EXIT_CODES and "1 run-time failure" in EXIT_CODES


def test_help_lists_commands(capsys):
    """--help names the commands."""
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "run" in out and "check-config" in out


def test_check_config_valid_and_invalid(tmp_path, capsys):
    """check-config exits 0 for a valid file and 2 with a one-line reason naming the key."""
    good = tmp_path / "good.yaml"
    good.write_text("source:\n  type: simulated\n  interval: 1\n  seed: 3\n")
    assert main(["check-config", str(good)]) == 0
    assert "valid" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("source:\n  interval: -1\n")
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "source.interval" in err


def test_check_config_unknown_source_key(tmp_path, capsys):
    """Keys a component validates (here the simulator's) are checked too."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("source:\n  seeed: 1\n")
    assert main(["check-config", str(bad)]) == 2
    assert "source.seeed" in capsys.readouterr().err


def test_bad_flag_value_is_one_line_no_traceback():
    """A bad flag value prints one line on stderr and exits 2 (real process)."""
    proc = real_process("run", "--interval", "0.01")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert "source.interval" in proc.stderr


def test_bad_env_value_exits_2(capsys, monkeypatch):
    """A bad STREAMDASH_* variable is reported like a bad flag."""
    monkeypatch.setenv("STREAMDASH_QUEUE__POLICY", "nope")
    proc = in_process(capsys, monkeypatch, "--port", "8050")
    assert proc.returncode == 2 and "queue.policy" in proc.stderr
    assert proc.stderr.strip().count("\n") == 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_serves_dashboard_and_stops_on_sigterm(tmp_path):
    """`streamdash --port P` serves / and /health, and exits 0 on SIGTERM after stopping."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "streamdash.cli", "--port", str(port),
                             "--interval", "0.2", "--data-dir", str(tmp_path),
                             "--log-format", "json"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert b"streamdash" in r.read()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert '"msg": "runtime stopped"' in err


def test_bench_named_on_the_command_line_imports_only_its_module():
    """`streamdash bench pipeline` does not import the other benchmarks (nor dash); a plain
    parser still offers every benchmark."""
    code = ("import sys; from streamdash.cli import build_parser; "
            "p = build_parser(bench='pipeline'); "
            "p.parse_args(['bench', 'pipeline', '--file', 'x']); "
            "print('dash' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
    from streamdash.cli import build_parser

    group = next(a for a in build_parser()._subparsers._group_actions[0].choices["bench"]
                 ._subparsers._group_actions)
    assert {"pipeline", "alerts"} <= set(group.choices)


def test_check_config_validates_every_section(tmp_path, capsys):
    """check-config reaches the schema, alert rules and dashboard sections, naming the key."""
    cases = {
        "schema:\n  fields:\n    temperature: {type: float, min: high}\n": "temperature",
        "alerts:\n  rules:\n    - {name: r1, metric: nope, op: '>', threshold: 1}\n": "r1",
        "dashboard:\n  colour: red\n": "dashboard.colour",
    }
    for i, (text, words) in enumerate(cases.items()):
        bad = tmp_path / f"bad{i}.yaml"
        bad.write_text(text)
        assert main(["check-config", str(bad)]) == 2, text
        assert words in capsys.readouterr().err
    good = tmp_path / "good.yaml"
    good.write_text(f"data_dir: {tmp_path / 'data'}\nsource: {{type: usgs-earthquakes}}\n")
    assert main(["check-config", str(good)]) == 0
    assert not (tmp_path / "data").exists()  # validating never creates the data dir


@pytest.mark.parametrize("text, key, suggestion", [
    ("source:\n  seeed: 1\n", "source.seeed", "seed"),
    ("source:\n  type: simulatd\n", "source.type", "simulated"),
    ("dashboard:\n  refesh: 2\n", "dashboard.refesh", "refresh"),
    ("storage:\n  snapshot_intervl: 2\n", "storage.snapshot_intervl", "snapshot_interval"),
    ("schema:\n  feilds: {a: str}\n", "schema.feilds", "fields"),
    ("transforms:\n  - dedupe: {ttl: 5}\n", "transforms[0]", "dedup"),
    ("alerts:\n  rules:\n    - {name: r, metrc: null_rate, op: '>', threshold: 1}\n",
     "metrc", "metric"),
])
def test_unknown_component_setting_suggests_the_closest_key(tmp_path, capsys, text, key,
                                                            suggestion):
    """Every section's own checker answers a typo with the closest key and the known ones."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert key in err and f"did you mean '{suggestion}'?" in err and "known: " in err, err


def test_missing_input_file_is_one_line_and_exit_1(tmp_path, capsys):
    """A command whose input file is missing (here the pipeline benchmark) prints one line
    naming the file and exits 1, the run-time failure of the convention."""
    missing = tmp_path / "nope.jsonl"
    assert main(["bench", "pipeline", "--file", str(missing)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(missing) in err and err.startswith("streamdash: ")
