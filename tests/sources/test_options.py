"""Value types of source settings."""

from __future__ import annotations

import pytest

from streamdash.errors import ConfigError
from streamdash.params import Float, Params
from streamdash.sources.base import parse_source
from streamdash.sources.options import HttpUrl, NameList, Text, TextMap, expand_env


class Demo(Params):
    """One setting of each type."""

    x: Float = 0.0
    flag: bool = False
    url: HttpUrl = "http://h/"
    names: NameList = ()
    label: Text = ""
    values: TextMap = {}


def test_valid_values_are_cast():
    """Numbers, booleans, URLs, maps and lists are cast from YAML values or flag text."""
    assert parse_source(Demo, {"x": "2.5"}).x == 2.5
    assert parse_source(Demo, {"flag": "yes"}).flag is True
    assert parse_source(Demo, {"flag": "off"}).flag is False
    assert parse_source(Demo, {"url": " https://h/x "}).url == "https://h/x"
    assert parse_source(Demo, {"values": {"a": 1, "b": True}}).values == {"a": "1", "b": "true"}
    assert parse_source(Demo, {"names": "a, b"}).names == ("a", "b")
    assert parse_source(Demo, {"label": 5}).label == "5"
    assert expand_env("k", "Bearer ${T}", {"T": "x"}) == "Bearer x"


@pytest.mark.parametrize("key, value", [
    ("x", "x"), ("x", True), ("flag", "maybe"), ("url", "ftp://h"), ("url", "http://"),
    ("url", "http://[::1"), ("values", [1]), ("names", 5), ("label", {}),
])
def test_bad_values_name_the_key(key, value):
    """Each bad value raises ConfigError with the key."""
    with pytest.raises(ConfigError) as err:
        parse_source(Demo, {key: value})
    assert err.value.key == f"source.{key}"


def test_a_bad_map_value_names_its_own_key():
    """A map value that is not a scalar is refused at its own dotted key."""
    with pytest.raises(ConfigError) as err:
        parse_source(Demo, {"values": {"a": [1]}})
    assert err.value.key == "source.values.a"
