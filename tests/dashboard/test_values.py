"""Tests for streamdash.dashboard.values (numbers, times, Plotly-safe text)."""

from streamdash.dashboard import values

T0 = 1_700_000_000.0


def test_formatting_helpers():
    """Numbers, percentages and missing values format for humans; bools and NaN are not numbers."""
    assert values.fmt_number(1234.567) == "1,234.57" and values.fmt_number(None) == "–"
    assert values.fmt_pct(0.0123) == "1.23 %" and values.fmt_pct(None) == "–"
    assert values.is_number(3) and not values.is_number(True)
    assert not values.is_number(float("nan")) and not values.is_number("1")


def test_plot_text_escapes_markup():
    """Stream-provided labels reach Plotly with their tags escaped (shown literally)."""
    assert values.plot_text("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert values.plot_text("a & b") == "a &amp; b"


def test_epoch_and_iso_conversions():
    """ISO texts with Z or an offset and epoch numbers convert both ways; naive texts do not."""
    assert values.epoch_of("2023-11-14T22:13:20.000Z") == T0
    assert values.epoch_of("2023-11-14T23:13:20+01:00") == T0
    assert values.epoch_of(T0) == T0
    assert values.epoch_of("2023-11-14T22:13:20") is None and values.epoch_of("x") is None
    assert values.iso_of(T0) == "2023-11-14T22:13:20.000Z" and values.iso_of(None) is None
