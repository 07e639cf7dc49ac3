"""The ``filter`` rule and the conditions it (and ``derive``'s ``when``) is built from."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from ...errors import ConfigError, unknown_key
from ...params import Params as BaseParams
from ..regex import compile_pattern
from .base import BatchContext, RuleContext


def _regex(v: Any, pattern: Any) -> bool:
    return type(v) is str and pattern.search(v) is not None


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
    "gt": operator.gt, "ge": operator.ge,
    "in": lambda v, c: v in c, "not_in": lambda v, c: v not in c,
    "matches": _regex,
}
UNARY_OPERATORS = ("exists", "missing", "null", "not_null")
SYMBOLS = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


def condition(raw: Any, key: str) -> Callable[[dict[str, Any]], bool]:
    """A predicate from ``{field, op, value}`` (``op`` eq ne lt le gt ge in not_in matches
    exists missing null not_null, or the symbols ``== != < <= > >=``).

    A comparison with a missing or null field, or between incomparable types, is false
    (``ne`` and ``not_in`` included: a missing value matches nothing).
    """
    if not isinstance(raw, dict):
        raise ConfigError(key, f"expected {{field, op, value}}, got {raw!r}")
    unknown = sorted(set(raw) - {"field", "op", "value"})
    if unknown:
        raise unknown_key(f"{key}.{unknown[0]}", unknown[0], ("field", "op", "value"))
    name = raw.get("field")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{key}.field", f"expected a field name, got {name!r}")
    op = SYMBOLS.get(raw.get("op", "eq"), raw.get("op", "eq"))
    if op in UNARY_OPERATORS:
        return {"exists": lambda r: name in r, "missing": lambda r: name not in r,
                "null": lambda r: name in r and r[name] is None,
                "not_null": lambda r: r.get(name) is not None}[op]
    if op not in OPERATORS:
        raise ConfigError(f"{key}.op", f"unknown operator {op!r} (known: "
                                       f"{', '.join(list(OPERATORS) + list(UNARY_OPERATORS))})")
    if "value" not in raw:
        raise ConfigError(f"{key}.value", f"operator {op!r} needs a value")
    value = raw["value"]
    if op in ("in", "not_in"):
        if not isinstance(value, list):
            raise ConfigError(f"{key}.value", f"'{op}' needs a list, got {value!r}")
        value = frozenset(value) if all(not isinstance(v, (list, dict)) for v in value) else value
    if op == "matches":
        value = compile_pattern(f"{key}.value", str(value))  # RE2: linear-time matching
    fn = OPERATORS[op]

    def check(rec: dict[str, Any]) -> bool:
        v = rec.get(name)
        if v is None:
            return False
        try:
            return bool(fn(v, value))
        except TypeError:  # e.g. "abc" < 3, or an unhashable value with 'in'
            return False
    return check


def conditions(raw: Any, key: str) -> Callable[[dict[str, Any]], bool]:
    """A predicate from one condition, a list (all must hold), ``{all: [...]}`` or
    ``{any: [...]}``."""
    if isinstance(raw, dict) and set(raw) in ({"all"}, {"any"}):
        mode = next(iter(raw))
        items = raw[mode]
        if not isinstance(items, list) or not items:
            raise ConfigError(f"{key}.{mode}", "expected a non-empty list of conditions")
        preds = [conditions(c, f"{key}.{mode}[{i}]") for i, c in enumerate(items)]
        if mode == "any":
            return lambda r: any(p(r) for p in preds)
        return lambda r: all(p(r) for p in preds)
    if isinstance(raw, list):
        return conditions({"all": raw}, key)
    return condition(raw, key)


class Filter:
    """Keeps records for which ``predicate`` holds; the others are counted as filtered."""

    name = "filter"
    #: The fewest parameters that build it (the registry test builds every rule from its own).
    example = {"field": "value", "op": "gt", "value": 0}

    class Params(BaseParams):
        """One condition ``{field, op, value}``, or ``{all: [...]}`` / ``{any: [...]}``; the
        combinations are checked by :func:`conditions`, which names the bad key."""

        field: str | None = None
        op: str | None = None
        value: Any = None
        all: list[Any] | None = None
        any: list[Any] | None = None

    @classmethod
    def build(cls, params: Filter.Params, context: RuleContext) -> Filter:
        """A filter on the conditions given (only the keys actually set count)."""
        return cls(conditions(params.model_dump(exclude_unset=True), context.where))

    def __init__(self, predicate: Callable[[dict[str, Any]], bool]):
        self.predicate = predicate
        self.filtered = 0

    def __call__(self, records: list[dict], times: list, ctx: BatchContext) -> tuple[list, list]:
        pred = self.predicate
        keep = [pred(r) for r in records]
        n = keep.count(False)
        if not n:
            return records, times
        ctx.counts["filtered"] += n
        self.filtered += n
        return ([r for r, k in zip(records, keep, strict=True) if k],
                [t for t, k in zip(times, keep, strict=True) if k])

    def stats(self) -> dict[str, Any]:
        """Records filtered out."""
        return {"filtered": self.filtered}
