"""The ``storage`` settings section, as a typed model, and where the history lives.

``storage.backend`` picks the store: ``sqlite`` (the default, ``<data_dir>/history.sqlite3``)
or ``postgres`` (``storage.url``, which the ``DATABASE_URL`` environment variable sets, as
Heroku Postgres provides it). Everything else applies to both.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StrictBool

from ...errors import ConfigError
from ...params import Float, Int, Params, Text, parse

FILENAME = "history.sqlite3"
BACKENDS = ("sqlite", "postgres")
#: The URL schemes libpq accepts (a ``key=value`` string is refused: its password could not
#: be masked in the outputs, which know URLs).
POSTGRES_SCHEMES = ("postgres://", "postgresql://")


def _sql_name(value: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", value):
        raise ValueError("expected a lower-case SQL name (a-z, 0-9, _; 63 at most)")
    return value


class StorageModel(Params):
    """The ``storage.*`` settings (docs/operations.md lists them); bounds on every number."""

    enabled: StrictBool = True  # strict: "yes" or 1 is a mistake, not a yes
    backend: Literal["sqlite", "postgres"] = "sqlite"
    url: Text = ""  # postgres: postgresql://user:password@host:port/db (DATABASE_URL)
    # postgres: the schema of the history's tables (several deployments may share a database)
    pg_schema: Annotated[Text, AfterValidator(_sql_name)] = Field("streamdash", alias="schema")
    snapshot_interval: Float = Field(10.0, ge=0.05, le=86400.0)
    retention_days: Float = Field(7.0, ge=0.0001, le=36500.0)
    prune_interval: Float = Field(3600.0, ge=1.0, le=86400.0)
    queue_size: Int = Field(10_000, ge=10, le=10_000_000)
    max_rows: Int = Field(1_000_000, ge=100, le=1_000_000_000)
    busy_timeout: Float = Field(2.0, ge=0.0, le=60.0)  # sqlite: wait for another's lock
    pool_size: Int = Field(4, ge=1, le=100)  # postgres: connections the readers share
    connect_timeout: Float = Field(5.0, ge=0.5, le=120.0)  # postgres: to connect, or wait
    statement_timeout: Float = Field(30.0, ge=0.1, le=3600.0)  # postgres: one write's bound


#: The name the store and its callers use for the parsed section.
StorageOptions = StorageModel


def storage_options(section: dict[str, Any] | None) -> StorageModel:
    """Validate the ``storage`` settings section; a bad key or value raises ``ConfigError``
    naming ``storage.<key>``."""
    options = parse(StorageModel, section, "storage", what="setting in 'storage'")
    if options.enabled and options.backend == "postgres":
        check_postgres_url(options.url, "storage.url")
    return options


def check_postgres_url(url: str, key: str) -> str:
    """``url`` when it is a PostgreSQL URL, else ``ConfigError`` at ``key`` saying what is
    expected (never repeating the value: it may hold a password)."""
    if not url:
        raise ConfigError(key, "required with storage.backend postgres (set it, or the "
                               "DATABASE_URL environment variable)")
    if not url.startswith(POSTGRES_SCHEMES):
        raise ConfigError(key, "expected a URL starting postgres:// or postgresql:// "
                               "(postgresql://user:password@host:5432/dbname)")
    return url


def database_path(data_dir: str | os.PathLike) -> Path:
    """Where the SQLite history of ``data_dir`` lives."""
    return Path(data_dir) / FILENAME
