"""Tests for streamdash.store.history.options: the storage settings section and the file path."""

import pytest
from pydantic import ValidationError

from streamdash.errors import ConfigError
from streamdash.store.history import StorageOptions, database_path, storage_options


def test_storage_options_are_validated():
    """Unknown keys and bad values in the storage section name the key."""
    assert storage_options({"snapshot_interval": 2, "enabled": False}) == StorageOptions(
        enabled=False, snapshot_interval=2.0)
    for section, key in [({"bogus": 1}, "storage.bogus"),
                         ({"enabled": "yes"}, "storage.enabled"),
                         ({"snapshot_interval": 0}, "storage.snapshot_interval"),
                         ({"retention_days": "x"}, "storage.retention_days"),
                         ({"queue_size": 10.5}, "storage.queue_size"),
                         ({"max_rows": True}, "storage.max_rows")]:
        with pytest.raises(ConfigError) as err:
            storage_options(section)
        assert err.value.key == key


@pytest.mark.parametrize("section, message", [
    ({"snapshot_intervl": 2}, "storage.snapshot_intervl: unknown setting in 'storage'; did you "
     "mean 'snapshot_interval'? (known: backend, busy_timeout, connect_timeout, enabled, "
     "max_rows, pool_size, prune_interval, queue_size, retention_days, schema, "
     "snapshot_interval, statement_timeout, url)"),
    ({"schema": "Robert'); DROP TABLE x"}, "storage.schema: expected a lower-case SQL name "
     "(a-z, 0-9, _; 63 at most)"),
    ({"backend": "mysql"}, "storage.backend: must be one of sqlite, postgres, got 'mysql'"),
    ({"backend": "postgres"}, "storage.url: required with storage.backend postgres (set it, "
     "or the DATABASE_URL environment variable)"),
    ({"backend": "postgres", "url": "host=db password=SECRET"}, "storage.url: expected a URL "
     "starting postgres:// or postgresql:// (postgresql://user:password@host:5432/dbname)"),
    ({"pool_size": 0}, "storage.pool_size: must be between 1 and 100, got 0"),
    ({"connect_timeout": 0.1}, "storage.connect_timeout: must be between 0.5 and 120, got 0.1"),
    ({"statement_timeout": "1h"}, "storage.statement_timeout: expected a number, got '1h'"),
    ({"enabled": 1}, "storage.enabled: expected true or false, got 1"),
    ({"snapshot_interval": 0}, "storage.snapshot_interval: must be between 0.05 and 86400, "
                               "got 0"),
    ({"queue_size": "5"}, "storage.queue_size: must be between 10 and 1e+07, got '5'"),
    ({"retention_days": "7d"}, "storage.retention_days: expected a number, got '7d'"),
    ({"max_rows": "1e3"}, "storage.max_rows: expected an integer, got '1e3'"),
    ({"max_rows": True}, "storage.max_rows: expected an integer, got True"),
    ({"busy_timeout": float("inf")}, "storage.busy_timeout: expected a finite number, got inf"),
    ({"prune_interval": [1]}, "storage.prune_interval: expected a number, got [1]"),
    (["enabled"], "storage: expected a mapping of settings, got ['enabled']"),
])
def test_a_bad_storage_setting_is_one_line_naming_the_key(section, message):
    """Each refused value gives one line: the dotted key, what was expected, what came."""
    with pytest.raises(ConfigError) as err:
        storage_options(section)
    assert str(err.value) == message and "\n" not in str(err.value)


def test_defaults_and_text_numbers_from_the_environment():
    """An empty or missing section gives the documented defaults; numbers given as text (as
    STREAMDASH_* variables give them) are read as numbers."""
    assert storage_options(None) == storage_options({}) == StorageOptions()
    defaults = StorageOptions()
    assert (defaults.enabled, defaults.snapshot_interval, defaults.retention_days,
            defaults.prune_interval, defaults.queue_size, defaults.max_rows,
            defaults.busy_timeout) == (True, 10.0, 7.0, 3600.0, 10_000, 1_000_000, 2.0)
    assert (defaults.backend, defaults.url, defaults.pool_size, defaults.connect_timeout,
            defaults.statement_timeout) == ("sqlite", "", 4, 5.0, 30.0)
    parsed = storage_options({"queue_size": "20", "snapshot_interval": "2.5"})
    assert parsed.queue_size == 20 and parsed.snapshot_interval == 2.5


def test_options_are_frozen_and_the_database_lives_in_the_data_dir(tmp_path):
    """Parsed options cannot change under the writer; the file is <data_dir>/history.sqlite3."""
    options = storage_options({"max_rows": 100})
    with pytest.raises(ValidationError):
        options.max_rows = 5
    assert database_path(tmp_path) == tmp_path / "history.sqlite3"
    assert database_path(str(tmp_path)) == tmp_path / "history.sqlite3"


def test_database_url_sets_the_postgres_url_and_sqlite_stays_the_default():
    """DATABASE_URL (Heroku Postgres) fills storage.url but does not change the backend;
    STREAMDASH_STORAGE__URL wins over it; the password never shows in the masked settings."""
    from streamdash.config import load_settings
    from streamdash.redact import mask_settings

    url = "postgres://app:PW-NEVER-SHOWN@db.example:5432/prod"
    settings = load_settings(None, environ={"DATABASE_URL": url})
    options = storage_options(settings.section("storage"))
    assert (options.backend, options.url) == ("sqlite", url)
    settings = load_settings(None, environ={"DATABASE_URL": url,
                                            "STREAMDASH_STORAGE__BACKEND": "postgres",
                                            "STREAMDASH_STORAGE__URL": url + "2"})
    assert storage_options(settings.section("storage")).url == url + "2"
    assert "PW-NEVER-SHOWN" not in str(mask_settings(settings.as_dict()))
    assert storage_options({"enabled": False, "backend": "postgres"}).url == ""  # unused: fine
