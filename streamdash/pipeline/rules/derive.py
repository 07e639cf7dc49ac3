"""The ``derive`` rule: a new or replaced field from a safe arithmetic expression."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...params import Params as BaseParams
from ..expr import Expression
from .base import BatchContext, RuleContext
from .filter import conditions


class Derive:
    """Sets ``field`` to an arithmetic expression of other fields (when ``when`` holds).

    The result is ``None`` (a null, visible to quality checks) when an input is missing or
    null; arithmetic errors (division by zero, overflow, domain) also give ``None`` and are
    counted in ``errors``.
    """

    name = "derive"
    #: The fewest parameters that build it (the registry test builds every rule from its own).
    example = {"field": "f", "expr": "value * 2"}

    class Params(BaseParams):
        """``field`` to set, ``expr`` (checked by :class:`Expression`), optional ``when``."""

        field: str
        expr: str
        when: Any = None

    @classmethod
    def build(cls, params: Derive.Params, context: RuleContext) -> Derive:
        """A derive of the parsed expression, limited to records matching ``when``."""
        at = context.where
        target = context.field_name("field", params.field)
        when = conditions(params.when, f"{at}.when") if params.when is not None else None
        return cls(target, Expression(params.expr, f"{at}.expr"), when)

    def __init__(self, target: str, expression: Expression,
                 when: Callable[[dict[str, Any]], bool] | None = None):
        self.target = target
        self.expression = expression
        self.when = when
        self.derived = 0
        self.errors = 0

    def __call__(self, records: list[dict], times: list, ctx: BatchContext) -> tuple[list, list]:
        evaluate, target, when = self.expression.evaluate, self.target, self.when
        fields = self.expression.fields
        for rec in records:
            if when is not None and not when(rec):
                continue
            value = evaluate(rec)
            if value is None and all(rec.get(f) is not None for f in fields):
                self.errors += 1
            rec[target] = value
            self.derived += 1
        return records, times

    def stats(self) -> dict[str, Any]:
        """Values derived and arithmetic errors."""
        return {"derived": self.derived, "errors": self.errors}
