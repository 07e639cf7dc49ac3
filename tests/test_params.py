"""Tests for streamdash.params: typed parameters whose errors name the dotted key."""

from typing import Annotated, Literal

import pytest
from pydantic import Field, ValidationError

from streamdash.errors import ConfigError
from streamdash.params import (
    Bool,
    Duration,
    Float,
    Int,
    NonNegativeDuration,
    Params,
    PositiveDuration,
    Text,
    TextList,
    parse,
)


class Inner(Params):
    """A nested model, as a list item."""

    size: Int = Field(1, ge=1, le=10)


class Toy(Params):
    """Every kind of field the settings use."""

    count: Int = Field(5, ge=1, le=10)
    ratio: Float = Field(0.5, ge=0, le=1)
    wait: Duration = 1.0
    timeout: PositiveDuration = 5.0
    delay: NonNegativeDuration = 0.0
    name: Text = ""
    on: Bool = True
    mode: Literal["a", "b"] = "a"
    tags: TextList = []
    items: list[Inner] = []
    labels: dict[str, Int] = {}
    for_: Float = Field(0.0, alias="for")


def test_values_are_cast_and_frozen():
    """Texts take any scalar, lists take comma text, durations take units; the result is frozen."""
    toy = parse(Toy, {"count": "7", "wait": "2m", "name": 2024, "tags": "a, b", "for": 3}, "toy")
    assert (toy.count, toy.wait, toy.name, toy.tags, toy.for_) == (7, 120.0, "2024", ["a", "b"],
                                                                   3.0)
    with pytest.raises(ValidationError, match="frozen"):
        toy.count = 3


@pytest.mark.parametrize("data, key, words", [
    ({"count": 11}, "toy.count", "must be between 1 and 10, got 11"),
    ({"count": True}, "toy.count", "expected an integer, got True"),
    ({"count": 5.5}, "toy.count", "expected an integer"),
    ({"ratio": float("nan")}, "toy.ratio", "finite"),
    ({"wait": "soon"}, "toy.wait", "expected a duration"),
    ({"timeout": 0}, "toy.timeout", "must be a positive duration, got 0"),
    ({"delay": "-1s"}, "toy.delay", "must be a non-negative duration"),
    ({"name": ["x"]}, "toy.name", "expected text, got ['x']"),
    ({"on": "yes"}, "toy.on", "expected true or false, got 'yes'"),
    ({"mode": "c"}, "toy.mode", "must be one of a, b, got 'c'"),
    ({"items": [{"size": 1}, {"size": 0}]}, "toy.items[1].size", "between 1 and 10"),
    ({"items": [{"sise": 1}]}, "toy.items[0].sise", "did you mean 'size'?"),
    ({"labels": {"x": "many"}}, "toy.labels.x", "expected an integer"),
    ({"for": "x"}, "toy.for", "expected a number"),
    ({"cuont": 1}, "toy.cuont", "did you mean 'count'?"),
])
def test_one_error_at_the_dotted_key(data, key, words):
    """The first problem is one ConfigError at its dotted key (list items as [i]), in our words."""
    with pytest.raises(ConfigError) as err:
        parse(Toy, data, "toy")
    assert err.value.key == key and words in str(err.value) and "\n" not in str(err.value)


def test_a_long_mapping_key_is_cut_in_the_message():
    """A hostile 10,000-character key is not repeated whole in the error."""
    with pytest.raises(ConfigError) as err:
        parse(Toy, {"labels": {"k" * 10_000: "x"}}, "toy")
    assert len(str(err.value)) < 300


def test_not_a_mapping():
    """A section that is not a mapping is named as such."""
    with pytest.raises(ConfigError, match="toy: expected a mapping of settings"):
        parse(Toy, [1], "toy")
    assert parse(Toy, None, "toy").count == 5


class Edge(Params):
    """A bound inside an optional type, and a secret-named setting."""

    limit: Annotated[Int, Field(ge=1, le=5)] | None = None
    api_key: Int = 0


def test_a_bound_inside_an_optional_type_is_named():
    """A range declared inside ``X | None`` still reads "between lo and hi" (it crashed)."""
    with pytest.raises(ConfigError) as err:
        parse(Edge, {"limit": 9}, "sec")
    assert str(err.value) == "sec.limit: must be between 1 and 5, got 9"


def test_a_secret_of_the_wrong_type_is_not_echoed():
    """A secret-named setting with a bad value names the key but never shows the value."""
    with pytest.raises(ConfigError) as err:
        parse(Edge, {"api_key": "s3cr3t-VALUE"}, "sec")
    assert err.value.key == "sec.api_key" and "s3cr3t-VALUE" not in str(err.value)
    assert "***" in str(err.value)
