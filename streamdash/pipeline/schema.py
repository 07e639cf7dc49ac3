"""Declarative record schema: the model and its reading from settings.

A :class:`Schema` lists fields with a ``type`` (``str``, ``int``, ``float``, ``bool``,
``timestamp``, ``scalar`` or ``any``), ``required``, ``nullable``, ``min``/``max``,
``max_length``, ``allowed`` values and a ``pattern``; plus the record ``key`` (the id used for
de-duplication), the ``event_time`` field and what to do with ``unknown`` fields (``keep``,
``drop``, ``reject``). It is read from the ``schema`` settings section
(:func:`schema_from_settings`) or derived from a source's hints (:func:`default_schema`).

The validator compiled from a schema is :class:`~streamdash.pipeline.validator.Validator`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field, StrictBool

from ..errors import ConfigError, unknown_key
from ..params import Int, Params, parse
from ..sources.base import FieldHints
from .regex import compile_pattern
from .timestamps import UNITS, parse_time_setting

TYPES = ("str", "int", "float", "bool", "timestamp", "scalar", "any")
ALIASES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool",
           "datetime": "timestamp", "time": "timestamp"}
UNKNOWN = ("keep", "drop", "reject")
SCHEMA_KEYS = ("fields", "key", "event_time", "unknown")


@dataclass(frozen=True)
class FieldSpec:
    """The rules of one field (see the module docstring)."""

    name: str
    type: str = "any"
    required: bool = True
    nullable: bool = False
    min: Any = None
    max: Any = None
    max_length: int | None = None
    allowed: frozenset | None = None
    pattern: str | None = None
    unit: str = "auto"  # timestamps given as numbers: auto, s or ms

    def __post_init__(self) -> None:
        where = f"schema.fields.{self.name}"
        if self.type not in TYPES:
            raise ConfigError(f"{where}.type", f"unknown type {self.type!r} "
                                               f"(known: {', '.join(TYPES)})")
        if (self.min is not None or self.max is not None) \
                and self.type not in ("int", "float", "timestamp"):
            raise ConfigError(f"{where}.min", f"min/max apply to int, float and timestamp "
                                              f"fields, not {self.type}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ConfigError(f"{where}.min", f"min {self.min!r} is greater than max {self.max!r}")
        if self.max_length is not None and self.type not in ("str", "scalar", "any"):
            raise ConfigError(f"{where}.max_length", "max_length applies to str fields")
        if self.pattern is not None:
            if self.type != "str":
                raise ConfigError(f"{where}.pattern", "pattern applies to str fields")
            compile_pattern(f"{where}.pattern", self.pattern)  # RE2: linear-time matching
        if self.unit not in UNITS:
            raise ConfigError(f"{where}.unit", f"must be one of {', '.join(UNITS)}")


@dataclass(frozen=True)
class Schema:
    """Fields, the record key, the event-time field and the unknown-field policy."""

    fields: tuple[FieldSpec, ...] = ()
    key: str | None = None
    event_time: str | None = None
    unknown: str = "keep"

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise ConfigError(f"schema.fields.{dup}", "declared twice")
        if self.unknown not in UNKNOWN:
            raise ConfigError("schema.unknown", f"must be one of {', '.join(UNKNOWN)}, "
                                                f"got {self.unknown!r}")
        if self.key is not None:
            spec = self.field(self.key)
            if spec is None:
                raise ConfigError("schema.key", f"field {self.key!r} is not declared in "
                                                "schema.fields")
            if spec.type == "any":
                raise ConfigError("schema.key", f"field {self.key!r} must have a scalar type "
                                                "(str, int, float, bool, timestamp or scalar)")
        if self.event_time is not None:
            spec = self.field(self.event_time)
            if spec is None:
                raise ConfigError("schema.event_time", f"field {self.event_time!r} is not "
                                                       "declared in schema.fields")
            if spec.type != "timestamp" or not spec.required or spec.nullable:
                raise ConfigError("schema.event_time", f"field {self.event_time!r} must be a "
                                  "required, non-nullable timestamp")

    def field(self, name: str) -> FieldSpec | None:
        """The spec of field ``name`` (``None`` when not declared)."""
        return next((f for f in self.fields if f.name == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        """Declared field names, in order."""
        return tuple(f.name for f in self.fields)


# -- building schemas ------------------------------------------------------------------------

class FieldParams(Params):
    """The settings of one field (see the module docstring); ``type`` and the bounds are
    checked against each other by :class:`FieldSpec`."""

    type: str = "any"
    required: StrictBool = True
    nullable: StrictBool = False
    min: Any = None
    max: Any = None
    max_length: Int = Field(None, ge=0)  # None: no limit (a plain annotation keeps the range)
    allowed: list[Any] | None = None
    pattern: str | None = None
    unit: str = "auto"


def _bound(key: str, value: Any, ftype: str) -> Any:
    if value is None:
        return None
    if ftype == "timestamp":
        return parse_time_setting(key, value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or (isinstance(value, float) and math.isnan(value)):
        raise ConfigError(key, f"expected a number, got {value!r}")
    return value


def field_from_settings(name: str, raw: Any) -> FieldSpec:
    """One field from its settings (a mapping, or just the type name)."""
    where = f"schema.fields.{name}"
    if isinstance(raw, str) or raw is None:
        raw = {"type": raw or "any"}
    if not isinstance(raw, Mapping):
        raise ConfigError(where, f"expected a mapping of rules or a type name, got {raw!r}")
    p = parse(FieldParams, raw, where, what="rule")
    ftype = ALIASES.get(p.type, p.type)
    if ftype not in TYPES:
        raise ConfigError(f"{where}.type", f"unknown type {ftype!r} (known: {', '.join(TYPES)})")
    allowed = p.allowed
    if allowed is not None:
        if not allowed:
            raise ConfigError(f"{where}.allowed", f"expected a non-empty list, got {allowed!r}")
        if any(isinstance(a, (dict, list)) for a in allowed):
            raise ConfigError(f"{where}.allowed", "allowed values must be scalars")
        allowed = frozenset(allowed)
    return FieldSpec(name=name, type=ftype, required=p.required, nullable=p.nullable,
                     min=_bound(f"{where}.min", p.min, ftype),
                     max=_bound(f"{where}.max", p.max, ftype),
                     max_length=p.max_length, allowed=allowed, pattern=p.pattern, unit=p.unit)


def schema_from_settings(raw: Any) -> Schema:
    """A :class:`Schema` from the ``schema`` settings section; ``ConfigError`` names the rule."""
    if not isinstance(raw, Mapping):
        raise ConfigError("schema", f"expected a mapping with 'fields', got {raw!r}")
    unknown = sorted(set(raw) - set(SCHEMA_KEYS))
    if unknown:
        raise unknown_key(f"schema.{unknown[0]}", unknown[0], SCHEMA_KEYS)
    fields = raw.get("fields")
    if not isinstance(fields, Mapping) or not fields:
        raise ConfigError("schema.fields", "expected a mapping of field name → rules")
    for opt in ("key", "event_time"):
        if raw.get(opt) is not None and not isinstance(raw.get(opt), str):
            raise ConfigError(f"schema.{opt}", f"expected a field name, got {raw.get(opt)!r}")
    return Schema(fields=tuple(field_from_settings(str(n), r) for n, r in fields.items()),
                  key=raw.get("key"), event_time=raw.get("event_time"),
                  unknown=str(raw.get("unknown", "keep")))


def default_schema(hints: FieldHints) -> Schema:
    """A schema derived from a source's hints, for when none is configured.

    Required fields must be present with a scalar value; the time field is a timestamp
    (required when the source says so); numeric fields are optional, nullable finite numbers.
    ``id`` (when required) is the de-duplication key.
    """
    specs: dict[str, FieldSpec] = {}
    for name in hints.required:
        specs[name] = FieldSpec(name, "scalar", required=True)
    if hints.time_field:
        req = hints.time_field in hints.required
        specs[hints.time_field] = FieldSpec(hints.time_field, "timestamp", required=req)
    for name in hints.numeric_fields:
        specs[name] = FieldSpec(name, "float", required=name in hints.required, nullable=True)
    time_spec = specs.get(hints.time_field) if hints.time_field else None
    return Schema(fields=tuple(specs.values()),
                  key="id" if "id" in hints.required else None,
                  event_time=hints.time_field if time_spec and time_spec.required else None)
