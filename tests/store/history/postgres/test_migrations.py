"""Tests for streamdash.store.history.postgres.migrations: the versioned schema, applied at
start, idempotent, and safe when several processes start at once (real PostgreSQL)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from streamdash.cli import main
from streamdash.store.history import History, StorageUnavailable, open_store
from streamdash.store.history.postgres.migrations import LATEST, LOCK_KEY, MIGRATIONS, migrate
from tests.helpers import wait_until, within

ROOT = Path(__file__).resolve().parents[4]
#: Seconds a Python process takes to import streamdash and psycopg and connect, on a loaded
#: 2-core machine with a core kept busy (measured 3–20 s): not a product period.
PROCESS_START = 60.0
TABLES = {"snapshots", "alerts", "dlq", "errors", "windows", "runs", "streamdash_migrations"}


def tables(dsn):
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'streamdash'")}


def versions(dsn):
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute(
            "SELECT version FROM streamdash.streamdash_migrations ORDER BY version")]


def test_migrations_are_numbered_from_one_without_gaps():
    """Versions run 1, 2, … in order, so 'the newest applied' says what a database holds."""
    assert [m.version for m in MIGRATIONS] == list(range(1, LATEST + 1))


def test_migrate_creates_the_schema_once_and_then_does_nothing(postgres_dsn):
    """The first migrate applies every version in the streamdash schema; the second applies
    none and changes nothing (idempotent)."""
    store = open_store(postgres_dsn)
    store.connect()
    assert store.migrated == list(range(1, LATEST + 1))
    assert tables(postgres_dsn) == TABLES
    store.disconnect()
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("SET search_path = streamdash")
        assert migrate(conn, "streamdash") == []
    assert versions(postgres_dsn) == list(range(1, LATEST + 1))


def test_processes_starting_at_once_do_not_race(postgres_dsn):
    """Four processes migrating one empty database at the same moment (all held at the
    advisory lock, then let go together) all succeed, and each version is applied once."""
    code = ("import sys; from streamdash.store.history import open_store; "
            "s = open_store(sys.argv[1]); s.connect(); print(s.migrated)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with psycopg.connect(postgres_dsn, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        procs = [subprocess.Popen([sys.executable, "-c", code, postgres_dsn], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(4)]

        def all_waiting():
            for proc in procs:  # one that ended before the lock failed: say why, now
                assert proc.poll() is None, proc.communicate()
            return holder.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                  "AND NOT granted").fetchone()[0] == 4

        wait_until(all_waiting, PROCESS_START, "four processes at the lock")
        holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in outs]
    applied = sorted(out.strip() for out, _ in outs)
    assert applied == sorted(["[]"] * 3 + [str(list(range(1, LATEST + 1)))])
    assert versions(postgres_dsn) == list(range(1, LATEST + 1))


def test_a_schema_newer_than_this_code_is_refused_and_reported(postgres_dsn):
    """A database migrated by a newer streamdash is not written with an old idea of its
    tables: connect raises, and a writer reports it in its status (the pipeline runs on)."""
    store = open_store(postgres_dsn)
    store.connect()
    store.disconnect()
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("INSERT INTO streamdash.streamdash_migrations (version, name) "
                      "VALUES (%s, 'from the future')", (LATEST + 1,))
    with pytest.raises(StorageUnavailable, match=f"version {LATEST + 1}, newer than this"):
        open_store(postgres_dsn).connect()
    history = History(open_store(postgres_dsn))
    with history:
        history.record_snapshot({"x": 1}, ts=time.time())
        wait_until(lambda: not history.status()["ok"], within(0.2), "the error reported")
        assert "upgrade streamdash" in history.status()["error"]


def test_history_migrate_command_applies_then_reports_up_to_date(postgres_dsn, capsys):
    """``streamdash history migrate --history URL`` applies the migrations, then says the
    schema is up to date; an unreachable server is exit 1 with one line."""
    assert main(["history", "migrate", "--history", postgres_dsn]) == 0
    assert f"schema at version {LATEST} (applied now: 1" in capsys.readouterr().out
    assert main(["history", "migrate", "--history", postgres_dsn]) == 0
    assert f"schema at version {LATEST} (up to date)" in capsys.readouterr().out
    assert main(["history", "migrate", "--history",
                 "postgresql://u:PW-HIDDEN@127.0.0.1:9/x"]) == 1
    err = capsys.readouterr().err
    assert "postgresql://u:***@127.0.0.1:9/x" in err and "PW-HIDDEN" not in err


def test_history_migrate_of_a_sqlite_data_dir(tmp_path, capsys):
    """For SQLite, migrate creates the file's tables and reports its schema version."""
    assert main(["history", "migrate", "--data-dir", str(tmp_path)]) == 0
    assert "history schema at version 1" in capsys.readouterr().out
    assert (tmp_path / "history.sqlite3").is_file()
