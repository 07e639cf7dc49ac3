"""The ``storage`` settings section, as a typed model, and where the database file lives."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, StrictBool

from ...params import Float, Int, Params, parse

FILENAME = "history.sqlite3"


class StorageModel(Params):
    """The ``storage.*`` settings (docs/operations.md lists them); bounds on every number."""

    enabled: StrictBool = True  # strict: "yes" or 1 is a mistake, not a yes
    snapshot_interval: Float = Field(10.0, ge=0.05, le=86400.0)
    retention_days: Float = Field(7.0, ge=0.0001, le=36500.0)
    prune_interval: Float = Field(3600.0, ge=1.0, le=86400.0)
    queue_size: Int = Field(10_000, ge=10, le=10_000_000)
    max_rows: Int = Field(1_000_000, ge=100, le=1_000_000_000)
    busy_timeout: Float = Field(2.0, ge=0.0, le=60.0)


#: The name the store and its callers use for the parsed section.
StorageOptions = StorageModel


def storage_options(section: dict[str, Any] | None) -> StorageModel:
    """Validate the ``storage`` settings section; a bad key or value raises ``ConfigError``
    naming ``storage.<key>``."""
    return parse(StorageModel, section, "storage", what="setting in 'storage'")


def database_path(data_dir: str | os.PathLike) -> Path:
    """Where the history database of ``data_dir`` lives."""
    return Path(data_dir) / FILENAME
