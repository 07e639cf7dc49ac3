"""The convert rule and its unit table."""

from __future__ import annotations

import pytest

from streamdash.errors import ConfigError
from streamdash.pipeline.rules.convert import UNITS, Convert, converter

from .harness import run


def test_convert_fahrenheit_to_celsius():
    """Convert turns °F values into °C with the textbook formula and sets the unit."""
    c = Convert("value", "unit", "C")
    recs = [{"value": 212.0, "unit": "F"}, {"value": 20.0, "unit": "C"},
            {"value": None, "unit": "F"}, {"value": 5.0, "unit": "furlongs"}, {"value": 1.0}]
    out, _, _ = run(c, recs)
    assert out[0] == {"value": (212.0 - 32) * 5 / 9, "unit": "C"}
    assert out[1] == {"value": 20.0, "unit": "C"} and out[2]["value"] is None
    assert out[3] == {"value": 5.0, "unit": "furlongs"}
    assert c.stats() == {"converted": 1, "unconverted": 2}


def test_unit_table_round_trips():
    """Every conversion and its inverse give back the value; dimensions must match."""
    for unit, (dim, _, _) in UNITS.items():
        for other, (dim2, _, _) in UNITS.items():
            if dim == dim2:
                assert converter(other, unit)(converter(unit, other)(12.5)) == pytest.approx(12.5)
    assert converter("K", "F")(273.15) == pytest.approx(32.0)
    with pytest.raises(ValueError):
        converter("C", "m")
    with pytest.raises(ConfigError):
        Convert("v", "u", "parsec")
