"""Tests for streamdash.cli.auth (``streamdash hash-password``) and the CLI's secure default.

The command runs in the test's process (``main(argv)``); the first test also runs it as a real
process reading a pipe, as a deploy script would.
"""

import pytest
from werkzeug.security import check_password_hash

from streamdash.auth_config import auth_settings, hash_token
from tests.cli.invoke import in_process, real_process


@pytest.fixture
def cli(capsys, monkeypatch):
    """``cli(*args, stdin=…)``: the command in this process; its Result."""
    return lambda *args, stdin="": in_process(capsys, monkeypatch, *args, stdin=stdin)


def test_hash_password_reads_stdin_and_prints_a_salted_hash(cli):
    """The password comes from stdin (never argv), piped into a real process; the output is one
    salted hash that checks against it, is accepted by auth.users, and differs on every run
    (salt)."""
    first = real_process("hash-password", stdin="correct horse battery\n")
    second = cli("hash-password", stdin="correct horse battery\n")
    assert first.returncode == 0, first.stderr
    digest = first.stdout.strip()
    assert "\n" not in digest and "correct horse" not in first.stdout + first.stderr
    assert check_password_hash(digest, "correct horse battery")
    assert not check_password_hash(digest, "correct horse battery\n")
    assert second.returncode == 0 and "correct horse" not in second.stdout + second.stderr
    assert check_password_hash(second.stdout.strip(), "correct horse battery")
    assert digest != second.stdout.strip()
    assert auth_settings({"users": {"alice": digest}}).users["alice"] == digest


def test_hash_password_takes_no_password_argument(cli):
    """A password given on the command line is refused by the parser (exit 2), not hashed."""
    proc = cli("hash-password", "hunter2hunter2")
    assert proc.returncode == 2 and "unrecognized arguments" in proc.stderr
    assert not proc.stdout


def test_short_or_empty_password_is_refused_in_one_line(cli):
    """A password under 8 characters is not hashed: one line on stderr, exit 2."""
    for text in ("", "short\n"):
        proc = cli("hash-password", stdin=text)
        assert proc.returncode == 2 and not proc.stdout
        assert proc.stderr.strip().count("\n") == 0 and "at least 8" in proc.stderr


def test_token_hash_and_new_token(cli):
    """``--token`` prints the sha256 hash of a token read from stdin; ``--new-token`` prints a
    random token and its hash."""
    proc = cli("hash-password", "--token", stdin="a-long-random-machine-token\n")
    assert proc.returncode == 0 and proc.stdout.strip() == hash_token("a-long-random-machine-token")
    made = cli("hash-password", "--new-token").stdout.split()
    assert len(made) == 2 and len(made[0]) >= 40 and made[1] == hash_token(made[0])
    assert cli("hash-password", "--token", stdin="short-token\n").returncode == 2


def test_run_on_a_public_address_without_login_exits_2_naming_the_setting(cli):
    """``streamdash run --host 0.0.0.0`` with no auth prints one line naming the variable to set
    and exits 2 without serving."""
    proc = cli("run", "--host", "0.0.0.0", "--port", "9")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "auth.users" in lines[0], proc.stderr
    assert "STREAMDASH_AUTH__USERS__<NAME>" in lines[0] and "auth.mode: none" in lines[0]
