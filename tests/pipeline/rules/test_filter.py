"""The filter rule and its conditions."""

from __future__ import annotations

import pytest

from streamdash.errors import ConfigError
from streamdash.pipeline.rules import Filter, conditions

from .harness import run


@pytest.mark.parametrize("cond,expected", [
    ({"field": "v", "op": "gt", "value": 1}, [2, 3]),
    ({"field": "v", "op": ">=", "value": 2}, [2, 3]),
    ({"field": "v", "op": "eq", "value": 1}, [1]),
    ({"field": "v", "op": "ne", "value": 1}, [2, 3, "x"]),
    ({"field": "v", "op": "in", "value": [1, 3]}, [1, 3]),
    ({"field": "v", "op": "not_in", "value": [1, 3]}, [2, "x"]),
    ({"field": "v", "op": "lt", "value": 3}, [1, 2]),         # "x" < 3 is false, not an error
    ({"field": "v", "op": "matches", "value": "^x"}, ["x"]),
    ({"field": "v", "op": "exists"}, [1, 2, 3, "x", None]),
    ({"field": "v", "op": "null"}, [None]),
    ({"field": "v", "op": "not_null"}, [1, 2, 3, "x"]),
    ([{"field": "v", "op": "ge", "value": 2}, {"field": "v", "op": "le", "value": 2}], [2]),
    ({"any": [{"field": "v", "op": "eq", "value": 1}, {"field": "v", "op": "eq", "value": "x"}]},
     [1, "x"]),
])
def test_filter_conditions(cond, expected):
    """Filter keeps records matching the condition(s) and counts the rest as filtered."""
    recs = [{"v": 1}, {"v": 2}, {"v": 3}, {"v": "x"}, {"v": None}, {}]
    out, times, counts = run(Filter(conditions(cond, "transforms[0].filter")), recs)
    assert [r["v"] for r in out] == expected and len(times) == len(out)
    assert counts["filtered"] == len(recs) - len(expected)


def test_missing_operator_value_and_unknown_operator_are_config_errors():
    """Bad conditions raise ConfigError naming the key."""
    for cond, key in (({"field": "v", "op": "near", "value": 1}, "f.op"),
                      ({"field": "v", "op": "gt"}, "f.value"),
                      ({"op": "gt", "value": 1}, "f.field"),
                      ({"field": "v", "op": "in", "value": 1}, "f.value"),
                      ({"field": "v", "op": "matches", "value": "("}, "f.value"),
                      ({"field": "v", "x": 1}, "f.x"), ({"any": []}, "f.any"), ("v>1", "f")):
        with pytest.raises(ConfigError) as err:
            conditions(cond, "f")
        assert err.value.key == key
