"""The ``outlier`` rule: flags values whose rolling z-score per key exceeds a threshold."""

from __future__ import annotations

import math
from collections import deque
from typing import Annotated, Any

from pydantic import Field

from ...params import Float, Int
from ...params import Params as BaseParams
from .base import BatchContext, RuleContext


class _Rolling:
    __slots__ = ("values", "total", "squares", "updates")

    def __init__(self) -> None:
        self.values: deque[float] = deque()
        self.total = 0.0
        self.squares = 0.0
        self.updates = 0


class Outlier:
    """Flags (never drops) values whose z-score against the previous ``window`` values of the
    same key exceeds ``threshold``; sets ``flag`` (bool) and ``z_field`` on records with a
    numeric value. The first ``min_count`` values of a key are never flagged."""

    name = "outlier"

    class Params(BaseParams):
        """``field`` and ``key`` default to the source's value and key fields."""

        field: str | None = None
        key: str | None = None
        window: Annotated[Int, Field(ge=2)] = 100
        threshold: Annotated[Float, Field(ge=0)] = 3.0
        min_count: Annotated[Int, Field(ge=2)] = 10
        flag: Annotated[str, Field(min_length=1)] = "outlier"
        z_field: str | None = None

    @classmethod
    def build(cls, params: Outlier.Params, context: RuleContext) -> Outlier:
        """An outlier rule on the value field per key (explicit ``key: null``: one series)."""
        hints, given = context.hints, params.model_fields_set
        value_field = params.field if "field" in given else hints.value_field
        key = params.key if "key" in given else hints.key_field or None
        return cls(context.field_name("field", value_field), key, window=params.window,
                   threshold=params.threshold, min_count=params.min_count, flag=params.flag,
                   z_field=params.z_field)

    def __init__(self, value_field: str, key: str | None, window: int = 100,
                 threshold: float = 3.0, min_count: int = 10, flag: str = "outlier",
                 z_field: str | None = None, max_keys: int = 100_000):
        self.field = value_field
        self.key = key
        self.window = window
        self.threshold = threshold
        self.min_count = min_count
        self.flag = flag
        self.z_field = z_field
        self.max_keys = max_keys
        self.state: dict[Any, _Rolling] = {}
        self.flagged = 0

    def __call__(self, records: list[dict], times: list, ctx: BatchContext) -> tuple[list, list]:
        for rec in records:
            v = rec.get(self.field)
            if type(v) not in (int, float) or not math.isfinite(v):
                continue
            z = self.score(rec.get(self.key) if self.key else None, float(v))
            outlier = z is not None and abs(z) > self.threshold
            rec[self.flag] = outlier
            if self.z_field:
                rec[self.z_field] = z
            self.flagged += outlier
        return records, times

    def score(self, key: Any, v: float) -> float | None:
        """The z-score of ``v`` against the key's window (then ``v`` joins the window)."""
        st = self.state.get(key)
        if st is None:
            if len(self.state) >= self.max_keys:
                self.state.pop(next(iter(self.state)))
            st = self.state[key] = _Rolling()
        n = len(st.values)
        z = None
        if n >= self.min_count:
            mean = st.total / n
            var = max(st.squares / n - mean * mean, 0.0)
            std = math.sqrt(var)
            z = (v - mean) / std if std > 1e-12 else (0.0 if abs(v - mean) <= 1e-12 else math.inf)
        st.values.append(v)
        st.total += v
        st.squares += v * v
        if len(st.values) > self.window:
            old = st.values.popleft()
            st.total -= old
            st.squares -= old * old
        st.updates += 1
        if st.updates % (self.window * 10) == 0:  # running sums drift; recompute exactly
            st.total = math.fsum(st.values)
            st.squares = math.fsum(x * x for x in st.values)
        return z

    def stats(self) -> dict[str, Any]:
        """Values flagged and keys tracked."""
        return {"flagged": self.flagged, "keys": len(self.state)}
