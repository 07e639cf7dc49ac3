"""Tests for ``streamdash history`` (streamdash.cli.history): the command group's errors and
how reading commands find the history (migrate and copy themselves: tests/store/history)."""

import argparse
import os

import pytest

from streamdash.cli import main
from streamdash.cli.history import history_location
from tests.servers import free_port


def test_bad_batch_and_unreachable_source_exit_2_and_1(tmp_path, capsys):
    """--batch out of range is a usage error (2); a source nobody serves is a run-time
    failure (1), one line, its password masked; no action prints the help (2)."""
    assert main(["history", "copy", "--from", f"sqlite:{tmp_path}", "--to",
                 f"sqlite:{tmp_path / 'x.db'}", "--batch", "0"]) == 2
    assert "--batch: must be between 1 and 1000000" in capsys.readouterr().err
    url = f"postgresql://u:PW-HIDDEN@127.0.0.1:{free_port()}/db"
    assert main(["history", "copy", "--from", url, "--to", f"sqlite:{tmp_path}"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("streamdash: history copy: cannot read postgresql://u:***@")
    assert "PW-HIDDEN" not in err and "\n" not in err
    assert main(["history"]) == 2


@pytest.mark.parametrize("flags, env, want", [
    ({}, {}, "sqlite:streamdash-data/history.sqlite3"),
    ({"data_dir": "d"}, {}, "sqlite:d/history.sqlite3"),
    ({}, {"STREAMDASH_DATA_DIR": "e"}, "sqlite:e/history.sqlite3"),
    ({}, {"STREAMDASH_STORAGE__BACKEND": "postgres", "DATABASE_URL": "postgres://h/db"},
     "postgres://h/db"),
    ({"data_dir": "d"}, {"STREAMDASH_STORAGE__BACKEND": "postgres",
                         "DATABASE_URL": "postgres://h/db"}, "sqlite:d/history.sqlite3"),
    ({"history": "sqlite:x"}, {"DATABASE_URL": "postgres://h/db"}, "sqlite:x"),
])
def test_reading_commands_find_the_history_as_documented(monkeypatch, flags, env, want):
    """--history, else --data-dir, else the settings' PostgreSQL, else their data dir, else
    ./streamdash-data."""
    for name in [n for n in os.environ if n.startswith("STREAMDASH_") or n == "DATABASE_URL"]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = argparse.Namespace(**{"config": None, "history": None, "data_dir": None, **flags})
    assert history_location(args)[0] == want
