"""The derive rule on its own."""

from __future__ import annotations

from streamdash.pipeline.expr import Expression
from streamdash.pipeline.rules import Derive, conditions

from .harness import run


def test_derive_sets_a_field_from_an_expression():
    """Derive computes a new field; null inputs give null; arithmetic errors are counted."""
    d = Derive("ratio", Expression("a / b"))
    recs = [{"a": 1, "b": 2}, {"a": 1, "b": 0}, {"a": None, "b": 1}]
    out, _, _ = run(d, recs)
    assert [r["ratio"] for r in out] == [0.5, None, None]
    assert d.stats() == {"derived": 3, "errors": 1}


def test_derive_when_condition():
    """Derive with `when` only touches matching records."""
    d = Derive("v", Expression("(v - 32) * 5 / 9"),
               when=conditions({"field": "unit", "op": "eq", "value": "F"}, "w"))
    out, _, _ = run(d, [{"v": 212, "unit": "F"}, {"v": 20, "unit": "C"}])
    assert [r["v"] for r in out] == [100.0, 20]
