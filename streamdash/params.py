"""Typed parameters: pydantic models whose errors read like every other setting's.

Each settings section, each source's and each rule's parameters is a :class:`Params` model:
unknown keys are refused with the closest known name, types and ranges are declared on the
fields, and :func:`parse` turns pydantic's report into one :class:`~streamdash.errors.ConfigError`
naming the dotted key — the only place where pydantic's error locations are converted.

Numbers use :data:`Int` / :data:`Float` (a YAML ``true`` is not a number, ``5.5`` is not an
integer) and ranges ``Field(ge=…, le=…)``; durations use :data:`Duration` (``30``, ``"30s"``,
``"5m"``, ``"250ms"``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

import annotated_types
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from .errors import ConfigError, unknown_key

M = TypeVar("M", bound=BaseModel)


class Params(BaseModel):
    """Base of every typed parameter set: unknown keys refused, values frozen once parsed."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True,
                              hide_input_in_errors=False)


def parse(model: type[M], data: Mapping[str, Any] | None, key: str, *,
          what: str = "setting") -> M:
    """``data`` validated as ``model``; a bad value raises ``ConfigError`` at ``key.<field>``.

    ``what`` names the kind of key in an unknown-key message ("setting for this source").
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(key, f"expected a mapping of settings, got {data!r}")
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise config_error(exc, model, key, what) from None


def config_error(exc: ValidationError, model: type[BaseModel], key: str,
                 what: str = "setting") -> ConfigError:
    """The first error of ``exc`` as a one-line ``ConfigError`` at its dotted key."""
    err = exc.errors(include_url=False)[0]
    loc = [str(part) for part in err["loc"]]
    where = ".".join(part for part in [key, *loc] if part)
    if err["type"] == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        known = owner.model_fields if owner is not None else ()
        names = [f.alias or name for name, f in known.items()] if known else []
        return unknown_key(where, loc[-1], names, what)
    return ConfigError(where, _problem(err, _bounds(model, loc)))


def _model_at(model: type[BaseModel], loc: list[str]) -> type[BaseModel] | None:
    """The model that owns the last part of ``loc`` (nested models followed by field name)."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = field.annotation
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _bounds(model: type[BaseModel], loc: list[str]) -> tuple[Any, Any]:
    """The ``ge``/``le`` (or ``gt``/``lt``) declared on the field at ``loc``, if any."""
    owner = _model_at(model, loc[:-1]) if loc else None
    field = owner.model_fields.get(loc[-1]) if owner is not None else None
    lo = hi = None
    for meta in field.metadata if field is not None else ():
        if isinstance(meta, (annotated_types.Ge, annotated_types.Gt)):
            lo = getattr(meta, "ge", None) if isinstance(meta, annotated_types.Ge) else meta.gt
        elif isinstance(meta, (annotated_types.Le, annotated_types.Lt)):
            hi = getattr(meta, "le", None) if isinstance(meta, annotated_types.Le) else meta.lt
    return lo, hi


def _problem(err: Mapping[str, Any], bounds: tuple[Any, Any]) -> str:
    """What is wrong, in the words every streamdash setting uses."""
    kind, got, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    lo, hi = bounds
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        if lo is not None and hi is not None:
            return f"must be between {lo:g} and {hi:g}, got {got!r}"
        if lo is not None:
            return f"must be at least {lo:g}, got {got!r}"
        return f"must be at most {hi:g}, got {got!r}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"expected an integer, got {got!r}"
    if kind in ("float_parsing", "float_type", "finite_number"):
        return f"expected a number, got {got!r}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, got {got!r}"
    if kind in ("string_type", "string_sub_type"):
        return f"expected text, got {got!r}"
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"must be one of {expected}, got {got!r}"
    if kind == "missing":
        return "is required"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping of settings, got {got!r}"
    if kind == "list_type":
        return f"expected a list, got {got!r}"
    if kind == "value_error":  # raised by a validator: its message is already ours
        return str(ctx.get("error", err["msg"]))
    return f"{err['msg']}, got {got!r}"


def _number(kind: type) -> Any:
    def check(value: Any) -> Any:
        # YAML's true/false are not numbers, and 5.5 is not an integer (pydantic would take both).
        if isinstance(value, bool):
            raise ValueError(f"expected {'an integer' if kind is int else 'a number'}, "
                             f"got {value!r}")
        if kind is float and isinstance(value, (int, float)) and not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {value!r}")
        return value
    return BeforeValidator(check)


#: An integer setting: ``true`` and ``5.5`` are refused (``"5"`` and ``5.0`` are 5).
Int = Annotated[int, _number(int)]
#: A finite number setting: ``true``, ``nan`` and ``inf`` are refused.
Float = Annotated[float, _number(float)]

_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0,
          None: 1.0}


def seconds(value: Any) -> float:
    """Seconds from a number or a text such as ``"30s"``, ``"5m"``, ``"4h"``, ``"250ms"``.

    The one duration reader of settings; raises ``ValueError`` with the accepted forms.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a duration (seconds or e.g. '30s', '5m'), got {value!r}")
    if isinstance(value, (int, float)):
        out = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"expected a duration (seconds or e.g. '30s', '5m'), got {value!r}")
        out = float(match.group(1)) * _UNITS[match.group(2)]
    if not math.isfinite(out):
        raise ValueError(f"expected a finite duration, got {value!r}")
    return out


#: A duration setting in seconds: a number or ``"30s"``/``"5m"``/``"2h"``/``"250ms"``.
Duration = Annotated[float, BeforeValidator(seconds)]
