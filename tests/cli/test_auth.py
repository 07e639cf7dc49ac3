"""Tests for streamdash.cli.auth (``streamdash hash-password``) and the CLI's secure default."""

import os
import subprocess
import sys
from pathlib import Path

from werkzeug.security import check_password_hash

from streamdash.auth_config import auth_settings, hash_token

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args, stdin="", env=None, timeout=60):
    """``python -m streamdash.cli ARGS`` with ``stdin`` piped in; the completed process."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full_env.pop("STREAMDASH_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "streamdash.cli", *args], input=stdin,
                          capture_output=True, text=True, env=full_env, timeout=timeout,
                          cwd=ROOT)


def test_hash_password_reads_stdin_and_prints_a_salted_hash():
    """The password comes from stdin (never argv); the output is one salted hash that checks
    against it, is accepted by auth.users, and differs on every run (salt)."""
    first = run_cli("hash-password", stdin="correct horse battery\n")
    second = run_cli("hash-password", stdin="correct horse battery\n")
    assert first.returncode == 0, first.stderr
    digest = first.stdout.strip()
    assert "\n" not in digest and "correct horse" not in first.stdout + first.stderr
    assert check_password_hash(digest, "correct horse battery")
    assert not check_password_hash(digest, "correct horse battery\n")
    assert digest != second.stdout.strip()
    assert auth_settings({"users": {"alice": digest}}).users["alice"] == digest


def test_hash_password_takes_no_password_argument():
    """A password given on the command line is refused by the parser (exit 2), not hashed."""
    proc = run_cli("hash-password", "hunter2hunter2")
    assert proc.returncode == 2 and "unrecognized arguments" in proc.stderr
    assert not proc.stdout


def test_short_or_empty_password_is_refused_in_one_line():
    """A password under 8 characters is not hashed: one line on stderr, exit 2."""
    for text in ("", "short\n"):
        proc = run_cli("hash-password", stdin=text)
        assert proc.returncode == 2 and not proc.stdout
        assert proc.stderr.strip().count("\n") == 0 and "at least 8" in proc.stderr


def test_token_hash_and_new_token():
    """``--token`` prints the sha256 hash of a token read from stdin; ``--new-token`` prints a
    random token and its hash."""
    proc = run_cli("hash-password", "--token", stdin="a-long-random-machine-token\n")
    assert proc.returncode == 0 and proc.stdout.strip() == hash_token("a-long-random-machine-token")
    made = run_cli("hash-password", "--new-token").stdout.split()
    assert len(made) == 2 and len(made[0]) >= 40 and made[1] == hash_token(made[0])
    assert run_cli("hash-password", "--token", stdin="short-token\n").returncode == 2


def test_run_on_a_public_address_without_login_exits_2_naming_the_setting():
    """``streamdash run --host 0.0.0.0`` with no auth prints one line naming the variable to set
    and exits 2 without serving."""
    proc = run_cli("run", "--host", "0.0.0.0", "--port", "9", timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "auth.users" in lines[0], proc.stderr
    assert "STREAMDASH_AUTH__USERS__<NAME>" in lines[0] and "auth.mode: none" in lines[0]
