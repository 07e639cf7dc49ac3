"""Tests for streamdash.store.history.postgres.connect and locate: which store a location
names, and what happens without the driver."""

import sys

import pytest

from streamdash.config import Settings
from streamdash.errors import ConfigError
from streamdash.store.history import SqliteStore, build_history, open_store, sqlite_path


def test_a_location_names_sqlite_or_postgres_and_nothing_else(tmp_path):
    """sqlite:DIR is the data dir's file, sqlite:FILE and a bare path the file; another
    scheme or nothing at all is a ConfigError naming the key (never echoing the URL)."""
    assert open_store(f"sqlite:{tmp_path}").location == str(tmp_path / "history.sqlite3")
    assert isinstance(open_store(str(tmp_path / "h.db")), SqliteStore)
    assert sqlite_path(tmp_path / "h.db") == tmp_path / "h.db"
    with pytest.raises(ConfigError, match="--to: expected sqlite:PATH or a postgres:// URL "
                                          r"\(got a mysql:// URL\)") as err:
        open_store("mysql://u:SECRET@h/db", key="--to")
    assert "SECRET" not in str(err.value)
    with pytest.raises(ConfigError, match="got nothing"):
        open_store("sqlite:")


def test_postgres_without_its_driver_is_a_config_error_saying_what_to_install(monkeypatch):
    """storage.backend: postgres without psycopg installed fails at build time, one line
    naming the setting and the extra to install."""
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    settings = Settings({"storage": {"backend": "postgres", "url": "postgresql://h/db"}})
    with pytest.raises(ConfigError) as err:
        build_history(settings)
    assert err.value.key == "storage.backend"
    assert "pip install 'streamdash[postgres]'" in str(err.value)


def test_a_connection_whose_setup_fails_is_closed(postgres_dsn, monkeypatch):
    """A connection that opened but could not be configured (here: a statement timeout the
    server refuses) is closed, not leaked; the error reaches the caller."""
    import psycopg

    from streamdash.store.history.postgres.connect import Postgres

    opened = []
    real = psycopg.connect
    monkeypatch.setattr(psycopg, "connect", lambda *a, **k: opened.append(real(*a, **k))
                        or opened[-1])
    with pytest.raises(psycopg.Error):
        Postgres(postgres_dsn, statement_timeout=-5).connect()
    assert opened and opened[0].closed
