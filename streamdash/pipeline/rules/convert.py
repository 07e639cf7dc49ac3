"""The ``convert`` rule: unit conversion of a field (°F → °C …) driven by a unit field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import ConfigError
from ...params import Params as BaseParams
from .base import Access, BatchContext, Fused, RuleContext, column

# Conversions to a base unit and back, per dimension. Each function is written in the
# textbook operation order ((F − 32) · 5 / 9) so results match a hand-written conversion.
UNITS: dict[str, tuple[str, Callable[[float], float], Callable[[float], float]]] = {
    # unit: (dimension, to_base, from_base)
    "C": ("temperature", lambda v: v, lambda v: v),
    "F": ("temperature", lambda v: (v - 32) * 5 / 9, lambda v: v * 9 / 5 + 32),
    "K": ("temperature", lambda v: v - 273.15, lambda v: v + 273.15),
    "m": ("length", lambda v: v, lambda v: v),
    "cm": ("length", lambda v: v / 100, lambda v: v * 100),
    "mm": ("length", lambda v: v / 1000, lambda v: v * 1000),
    "km": ("length", lambda v: v * 1000, lambda v: v / 1000),
    "in": ("length", lambda v: v * 0.0254, lambda v: v / 0.0254),
    "ft": ("length", lambda v: v * 0.3048, lambda v: v / 0.3048),
    "mi": ("length", lambda v: v * 1609.344, lambda v: v / 1609.344),
    "kg": ("mass", lambda v: v, lambda v: v),
    "g": ("mass", lambda v: v / 1000, lambda v: v * 1000),
    "lb": ("mass", lambda v: v * 0.45359237, lambda v: v / 0.45359237),
    "Pa": ("pressure", lambda v: v, lambda v: v),
    "hPa": ("pressure", lambda v: v * 100, lambda v: v / 100),
    "kPa": ("pressure", lambda v: v * 1000, lambda v: v / 1000),
    "bar": ("pressure", lambda v: v * 100_000, lambda v: v / 100_000),
    "psi": ("pressure", lambda v: v * 6894.757293168, lambda v: v / 6894.757293168),
    "m/s": ("speed", lambda v: v, lambda v: v),
    "km/h": ("speed", lambda v: v / 3.6, lambda v: v * 3.6),
    "mph": ("speed", lambda v: v * 0.44704, lambda v: v / 0.44704),
}


def converter(source: str, target: str) -> Callable[[float], float]:
    """The function converting ``source`` units to ``target`` units (same dimension)."""
    dim_s, to_base, _ = UNITS[source]
    dim_t, _, from_base = UNITS[target]
    if dim_s != dim_t:
        raise ValueError(f"cannot convert {source} ({dim_s}) to {target} ({dim_t})")
    base = next(u for u, (d, *_rest) in UNITS.items() if d == dim_t)
    if target == base:
        return to_base
    if source == base:
        return from_base
    return lambda v: from_base(to_base(v))


class Convert:
    """Converts ``field`` to the ``to`` unit, reading each record's unit from ``unit_field``
    (and setting it to ``to``). Values in an unknown or other-dimension unit are left as they
    are and counted in ``unconverted``; null values are skipped."""

    name = "convert"
    #: The fewest parameters that build it (the registry test builds every rule from its own).
    example = {"to": "C"}

    class Params(BaseParams):
        """``field`` (default: the source's value field), ``unit_field``, target unit ``to``."""

        field: str | None = None
        unit_field: str = "unit"
        to: str | None = None

    @classmethod
    def build(cls, params: Convert.Params, context: RuleContext) -> Convert:
        """A conversion to a known unit (``ConfigError`` at ``….to`` otherwise)."""
        value_field = params.field if "field" in params.model_fields_set \
            else context.hints.value_field
        if params.to not in UNITS:
            raise ConfigError(f"{context.where}.to", _unknown_unit(params.to))
        return cls(context.field_name("field", value_field),
                   context.field_name("unit_field", params.unit_field), params.to)

    def __init__(self, target_field: str, unit_field: str, to: str):
        if to not in UNITS:
            raise ConfigError("convert.to", _unknown_unit(to))
        self.field = target_field
        self.unit_field = unit_field
        self.to = to
        dim = UNITS[to][0]
        self.table = {u: converter(u, to) for u, (d, *_r) in UNITS.items() if d == dim and u != to}
        self.converted = 0
        self.unconverted = 0

    def __call__(self, records: list[dict], times: list, ctx: BatchContext) -> tuple[list, list]:
        fname, uname, to, table = self.field, self.unit_field, self.to, self.table
        converted = unconverted = 0
        for rec, unit in zip(records, column(records, uname), strict=True):
            if unit == to:
                continue
            v = rec.get(fname)
            if v is None:
                continue
            fn = table.get(unit) if type(unit) is str else None
            if fn is None or type(v) not in (int, float):
                unconverted += 1
                continue
            rec[fname] = fn(v)
            rec[uname] = to
            converted += 1
        self.converted += converted
        self.unconverted += unconverted
        return records, times

    def fuse(self, j: int, access: Access, ns: dict[str, Any]) -> Fused | None:
        """Generated code doing :meth:`__call__`'s work inside the validator's loop."""
        ns.update({f"RULE_{j}": self, f"FIELD_{j}": self.field, f"UNIT_{j}": self.unit_field,
                   f"TO_{j}": self.to})
        set_value = access.write(self.field, f"FIELD_{j}", f"fn_{j}(x_{j})")
        set_unit = access.write(self.unit_field, f"UNIT_{j}", f"TO_{j}")
        if set_value is None or set_unit is None:
            return None
        setup = [f"table_get_{j} = RULE_{j}.table.get; conv_{j} = 0; unconv_{j} = 0"]
        body = [f"u_{j} = {access.read(self.unit_field, f'UNIT_{j}')}",
                f"if u_{j} != TO_{j}:",
                f"    x_{j} = {access.read(self.field, f'FIELD_{j}')}",
                f"    if x_{j} is not None:",
                f"        fn_{j} = table_get_{j}(u_{j}) if type(u_{j}) is STR else None",
                f"        if fn_{j} is None or (type(x_{j}) is not FLOAT"
                f" and type(x_{j}) is not INT):",
                f"            unconv_{j} += 1",
                "        else:",
                f"            {set_value}; {set_unit}",
                f"            conv_{j} += 1"]
        teardown = [f"RULE_{j}.converted += conv_{j}; RULE_{j}.unconverted += unconv_{j}"]
        return setup, body, teardown

    def stats(self) -> dict[str, Any]:
        """Values converted, and values left in an unknown unit."""
        return {"converted": self.converted, "unconverted": self.unconverted}


def _unknown_unit(to: Any) -> str:
    return f"unknown unit {to!r} (known: {', '.join(UNITS)})"
