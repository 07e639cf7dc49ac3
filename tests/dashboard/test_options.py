"""Tests for streamdash.dashboard.options (the dashboard settings section)."""

import pytest

from streamdash.config import Settings
from streamdash.dashboard.options import dashboard_options
from streamdash.errors import ConfigError
from streamdash.sources.base import FieldHints

HINTS = FieldHints(value_field="temperature", key_field="sensor", time_field="ts")


def test_defaults_come_from_source_hints():
    """Without settings, fields come from the source's hints and refresh is 5 s."""
    o = dashboard_options(Settings(), HINTS)
    assert (o.value_field, o.key_field, o.time_field, o.refresh) == ("temperature", "sensor",
                                                                     "ts", 5.0)


def test_settings_override_hints():
    """dashboard.value_field/key_field/time_field and bounds are taken from the settings."""
    o = dashboard_options(Settings({"dashboard": {"value_field": "humidity", "key_field": "room",
                                                  "time_field": "at", "table_rows": 50,
                                                  "refresh": 2}}), HINTS)
    assert (o.value_field, o.key_field, o.time_field, o.table_rows, o.refresh) == (
        "humidity", "room", "at", 50, 2.0)


@pytest.mark.parametrize("values, key", [({"dashboard.colour": "red"}, "dashboard.colour"),
                                         ({"dashboard.table_rows": 5}, "dashboard.table_rows"),
                                         ({"dashboard.table_rows": True}, "dashboard.table_rows"),
                                         ({"dashboard.time_field": 3}, "dashboard.time_field"),
                                         ({"dashboard.shared_extends": 0},
                                          "dashboard.shared_extends")])
def test_bad_settings_name_the_key(values, key):
    """Unknown keys and bad values raise ConfigError naming the dotted key."""
    with pytest.raises(ConfigError) as err:
        dashboard_options(Settings(values), HINTS)
    assert key in str(err.value)


def test_a_misspelt_key_suggests_the_known_one():
    """dashboard.table_row (a typo) names the setting it probably meant."""
    with pytest.raises(ConfigError) as err:
        dashboard_options(Settings({"dashboard.table_row": 50}), HINTS)
    assert err.value.key == "dashboard.table_row" and "did you mean 'table_rows'" in str(err.value)
