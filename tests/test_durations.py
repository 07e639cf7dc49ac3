"""Tests for streamdash.durations: the one duration reader of settings, rules and queries."""

import pytest

from streamdash.durations import bounded, parse_text, seconds


@pytest.mark.parametrize("value, expected", [
    (5, 5.0), (0.5, 0.5), ("30s", 30.0), ("5m", 300.0), ("4h", 14400.0), ("250ms", 0.25),
    ("1d", 86400.0), ("1w", 604800.0), ("2", 2.0), (" 1.5 s ", 1.5),
])
def test_numbers_and_units(value, expected):
    """A duration is seconds, or a number with ms, s, m, h, d or w."""
    assert seconds(value) == expected


@pytest.mark.parametrize("bad", ["soon", None, True, "5 minutes", "1e3s", float("inf"),
                                 "9" * 400, float("nan")])
def test_anything_else_is_a_value_error_listing_the_forms(bad):
    """Unparseable, boolean, missing, NaN or infinite values raise ValueError."""
    with pytest.raises(ValueError, match="duration"):
        seconds(bad)


def test_parse_text_leaves_sign_and_size_to_the_caller():
    """parse_text reads the form only: negative and infinite spans come back, junk is None."""
    assert parse_text("-5m") == -300.0 and parse_text("9" * 400 + "d") == float("inf")
    assert parse_text("5x") is None


def test_bounded_refuses_negative_and_optionally_zero():
    """bounded() refuses negative durations, and zero when it must be positive."""
    assert bounded("0s") == 0.0
    with pytest.raises(ValueError, match="non-negative"):
        bounded("-1s")
    with pytest.raises(ValueError, match="positive"):
        bounded(0, allow_zero=False)
