"""The outlier rule on its own."""

from __future__ import annotations

from streamdash.pipeline.rules import Outlier

from .harness import run


def test_outlier_flags_without_dropping():
    """A value far from its key's rolling mean is flagged; records are never dropped."""
    o = Outlier("v", "k", window=50, threshold=3.0, min_count=10, z_field="z")
    recs = [{"k": "a", "v": 20.0 + (i % 5) * 0.1} for i in range(30)]
    recs += [{"k": "a", "v": 60.0}, {"k": "b", "v": 60.0}, {"k": "a", "v": None}]
    out, _, counts = run(o, recs)
    assert len(out) == len(recs) and sum(counts.values()) == 0
    assert out[30]["outlier"] is True and out[30]["z"] > 3
    assert out[31]["outlier"] is False          # key b has no history yet
    assert "outlier" not in out[32]            # null value: not scored
    assert not any(r["outlier"] for r in out[:30])
    assert o.stats()["flagged"] == 1


def test_outlier_window_rolls_and_constant_series():
    """Old values leave the window; a constant series flags any change."""
    o = Outlier("v", None, window=10, threshold=3.0, min_count=5)
    for _ in range(100):
        assert o.score(None, 5.0) in (None, 0.0)
    assert len(o.state[None].values) == 10
    assert o.score(None, 6.0) == float("inf")
