"""Typed parameters: pydantic models whose errors read like every other setting's.

Each settings section, each source's and each rule's parameters is a :class:`Params` model:
unknown keys are refused with the closest known name, types and ranges are declared on the
fields, and :func:`parse` turns pydantic's report into one :class:`~streamdash.errors.ConfigError`
naming the dotted key — the only place where pydantic's error locations are converted.

Numbers use :data:`Int` / :data:`Float` (a YAML ``true`` is not a number, ``5.5`` is not an
integer) and ranges ``Field(ge=…, le=…)``; durations use :data:`Duration` (``30``, ``"30s"``,
``"5m"``, ``"250ms"``; :data:`PositiveDuration` and :data:`NonNegativeDuration` say so in their
error), text :data:`Text` (any scalar), switches :data:`Bool` (only ``true``/``false``) and lists
that an environment variable may give as comma-separated text :data:`TextList`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar, get_args, get_origin

import annotated_types
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from .durations import bounded, seconds
from .errors import ConfigError, unknown_key
from .redact import MASK, is_secret_name

__all__ = ["Bool", "Duration", "Float", "Int", "NonNegativeDuration", "Params",
           "PositiveDuration", "Text", "TextList", "config_error", "parse", "seconds"]

#: Longest part of a user-given key (a dict key, a name) repeated in an error message.
MAX_KEY_SHOWN = 64

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
    # pydantic adds "[key]" after a dict key that failed; the key itself names the place.
    loc = [part if isinstance(part, int) else str(part)[:MAX_KEY_SHOWN]
           for part in err["loc"] if part != "[key]"]
    where = key
    for part in loc:  # list items read as rules[0], the rest as dotted keys
        where = f"{where}[{part}]" if isinstance(part, int) else \
            f"{where}.{part}" if where else part
    if err["type"] == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        names = [f.alias or n for n, f in owner.model_fields.items()] if owner else []
        name = str(loc[-1])
        parent = where[:-len(name) - 1] if len(where) > len(name) else ""
        if what == "setting" and parent:  # "unknown setting in 'queue'", as every section says
            what = f"setting in '{parent}'"
        return unknown_key(where, name, names, what)
    problem = _problem(err, _bounds(model, loc, err.get("ctx") or {}))
    got = err.get("input")
    if any(is_secret_name(str(part)) for part in loc) and isinstance(got, (str, int, float)) \
            and len(str(got)) >= 4:  # a secret of the wrong type or shape is still a secret
        problem = problem.replace(repr(got), repr(MASK)).replace(str(got), MASK)
    return ConfigError(where, problem)


def _model_at(model: type[BaseModel], loc: list[Any]) -> type[BaseModel] | None:
    """The model that owns the last part of ``loc`` (nested models, list items by index)."""
    current: type[BaseModel] | None = model
    keyed = False  # the last field was a mapping of models: this part is one of its keys
    for part in loc:
        if isinstance(part, int) or keyed:  # an item of a list or a mapping: same model
            keyed = False
            continue
        field = _field(current, part) if current is not None else None
        current = _unwrap(field.annotation) if field is not None else None
        keyed = field is not None and _is_mapping(field.annotation)
    return current


def _is_mapping(annotation: Any) -> bool:
    """Whether ``annotation`` is a ``dict[…]`` (or ``dict[…] | None``)."""
    return get_origin(annotation) is dict or any(get_origin(a) is dict
                                                 for a in get_args(annotation))


def _unwrap(annotation: Any) -> type[BaseModel] | None:
    """The model inside ``annotation`` (``Model``, ``Model | None``, ``list[Model]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _unwrap(arg)
        if found is not None:
            return found
    return None


def _field(model: type[BaseModel], name: str) -> Any:
    """The field of ``model`` called ``name`` in the input (its alias, if it has one)."""
    for field_name, field in model.model_fields.items():
        if (field.alias or field_name) == name:
            return field
    return None


def _bounds(model: type[BaseModel], loc: list[str], ctx: Mapping[str, Any]) -> tuple[Any, Any]:
    """The ``ge``/``le`` (or ``gt``/``lt``) declared on the field at ``loc``, if any.

    A bound inside ``X | None`` is not on the field: the failed bound then comes from the
    error's own context, so the message still names it.
    """
    owner = _model_at(model, loc[:-1]) if loc else None
    field = _field(owner, str(loc[-1])) if owner is not None else None
    lo, hi = ctx.get("ge", ctx.get("gt")), ctx.get("le", ctx.get("lt"))
    metas = [*field.metadata, *_nested_metadata(field.annotation)] if field is not None else []
    for meta in metas:
        if isinstance(meta, (annotated_types.Ge, annotated_types.Gt)):
            lo = getattr(meta, "ge", None) if isinstance(meta, annotated_types.Ge) else meta.gt
        elif isinstance(meta, (annotated_types.Le, annotated_types.Lt)):
            hi = getattr(meta, "le", None) if isinstance(meta, annotated_types.Le) else meta.lt
    return lo, hi


def _nested_metadata(annotation: Any) -> list[Any]:
    """Constraints declared inside an annotation (``Annotated[int, Field(ge=1)] | None``)."""
    found: list[Any] = []
    for meta in getattr(annotation, "__metadata__", ()):
        found.extend(getattr(meta, "metadata", [meta]))  # a FieldInfo carries its own list
    for arg in get_args(annotation):
        if arg is not annotation:
            found.extend(_nested_metadata(arg))
    return found


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
    if kind in ("model_type", "model_attributes_type"):
        return f"expected a mapping of settings, got {got!r}"
    if kind == "dict_type":
        return f"expected a mapping, got {got!r}"
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

#: A duration setting in seconds: a number or ``"30s"``/``"5m"``/``"2h"``/``"250ms"``.
Duration = Annotated[float, BeforeValidator(seconds)]
#: A duration that must be more than 0 (an interval, a timeout).
PositiveDuration = Annotated[float, BeforeValidator(lambda v: bounded(v, allow_zero=False))]
#: A duration that must not be negative (a delay, a hold time).
NonNegativeDuration = Annotated[float, BeforeValidator(bounded)]


def _text(value: Any) -> str:
    # Flags and env values are YAML scalars: a name like 2024 arrives as an int.
    if value is None or isinstance(value, (dict, list, tuple, set)):
        raise ValueError(f"expected text, got {value!r}")
    return str(value)


#: A text setting: any scalar is taken as its text (``2024`` → ``"2024"``), ``None``, mappings
#: and lists are refused.
Text = Annotated[str, BeforeValidator(_text)]
#: ``true`` or ``false`` only: pydantic would also take ``"yes"``, ``1`` and ``"off"``.
Bool = Annotated[bool, Field(strict=True)]


def comma_list(value: Any) -> Any:
    """``"a, b"`` as ``["a", "b"]`` (environment variables hold lists as comma-separated text)."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


#: A list of texts, or one comma-separated text.
TextList = Annotated[list[str], BeforeValidator(comma_list)]
