"""Tests for streamdash.store.history.options: the storage settings section and the file path."""

import pytest

from streamdash.errors import ConfigError
from streamdash.store.history import StorageOptions, storage_options


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
