"""Casts for source settings."""

from __future__ import annotations

import pytest

from streamdash.errors import ConfigError
from streamdash.sources.options import (
    boolean,
    expand_env,
    http_url,
    name_list,
    number,
    text,
    text_map,
)


def test_valid_values_are_cast():
    """Numbers, booleans, URLs, maps and lists are cast from YAML values or flag text."""
    assert number(0, 10)("k", "2.5") == 2.5
    assert boolean("k", "yes") is True and boolean("k", "off") is False and boolean("k", True)
    assert http_url("k", " https://h/x ") == "https://h/x"
    assert text_map("k", {"a": 1, "b": True}) == {"a": "1", "b": "true"}
    assert name_list("k", "a, b") == ["a", "b"] and text("k", 5) == "5"
    assert expand_env("k", "Bearer ${T}", {"T": "x"}) == "Bearer x"


@pytest.mark.parametrize("cast, value", [
    (number(0, 10), "x"), (number(0, 10), 11), (number(0, 10), True), (boolean, "maybe"),
    (http_url, "ftp://h"), (http_url, "http://"), (text_map, [1]), (name_list, 5), (text, {}),
])
def test_bad_values_name_the_key(cast, value):
    """Each bad value raises ConfigError with the key."""
    with pytest.raises(ConfigError) as err:
        cast("source.x", value)
    assert err.value.key == "source.x"
