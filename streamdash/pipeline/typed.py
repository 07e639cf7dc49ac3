"""Typed JSON decoding: the schema as a ``msgspec`` struct, decoded and type-checked in C.

Raw JSON lines (a JSON Lines source's batches) are first offered to :class:`TypedDecoder`,
built once from the :class:`~streamdash.pipeline.schema.Schema`: ``msgspec`` decodes a line
straight into a struct of the schema's fields while checking, in C, that every required field
is present, that each value has its declared type (``null`` only where nullable; ``allowed``
strings as a ``Literal``) and that no other field is there. The validator's loop works on the
struct (attribute reads are cheaper than dict look-ups) and makes the record's dict only when
it keeps the record. A line it refuses goes the exact way — ``orjson`` and the compiled
validator, which lists every reason — so the typed decoder decides nothing by itself: it may
only *accept* what the exact way accepts, with an equal record. What it cannot express is left
to the validator's residual checks (timestamps, ``min``/``max``, ``max_length``, ``pattern``,
other ``allowed`` values); a schema with an ``any`` field gets no typed decoder.

Where ``orjson`` and ``msgspec`` differ, the typed decoder is narrowed until it refuses:

* integers: ``orjson`` keeps an integer in [-2**63, 2**64 - 1] and makes a float of any other,
  ``msgspec`` keeps every integer — typed ints are bounded to int64 (msgspec's bounds must fit
  one), so the rest go the exact way;
* ``float`` fields take ``int | float``, so ``1`` stays the int ``1`` as with ``orjson``;
* a field the schema does not declare is refused (``forbid_unknown_fields``): ``msgspec``
  would skip it, less strictly than ``orjson`` parses it, and ``unknown: keep`` must keep it;
* a repeated key is judged on each occurrence, the last one kept, as ``orjson`` keeps it.

A record made from a struct lists the schema's fields in the schema's order (equal to the
``orjson`` record, whose keys come in the line's order). ``tests/pipeline/test_typed.py``
feeds random valid and invalid lines through both ways and compares accepted records,
rejections, reasons and counts.
"""

from __future__ import annotations

import keyword
from typing import Annotated, Any, Literal

import msgspec

from .schema import FieldSpec, Schema

#: msgspec's integer bounds must fit an int64; ``orjson``'s ints go to 2**64 - 1, so the
#: typed decoder refuses [2**63, 2**64 - 1] too and those few lines go the exact way.
INT = Annotated[int, msgspec.Meta(ge=-2**63, le=2**63 - 1)]
TYPES: dict[str, Any] = {"str": str, "int": INT, "float": INT | float, "bool": bool,
                         "timestamp": str | INT | float, "scalar": str | INT | float | bool}
#: What decoding a line may raise: msgspec's errors are ``ValueError``s; ``TypeError`` for
#: an input that is not ``bytes``/``str`` (an already decoded record in a raw batch).
ERRORS = (ValueError, TypeError, RecursionError)
UNSET = msgspec.UNSET


def literal_allowed(spec: FieldSpec) -> bool:
    """Whether the typed decoder checks ``allowed`` itself (a ``str`` field allowing only
    strings: a ``Literal``, compared exactly)."""
    return spec.type == "str" and spec.allowed is not None \
        and all(type(a) is str for a in spec.allowed)


def _field_type(spec: FieldSpec) -> Any:
    t = Literal[tuple(sorted(spec.allowed))] if literal_allowed(spec) else TYPES[spec.type]
    if spec.nullable:
        t = t | None
    return t if spec.required else t | msgspec.UnsetType


def _attribute(i: int, name: str) -> str:
    """The struct attribute of field ``i``: its name when generated code can spell it."""
    usable = name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")
    return name if usable else f"f{i}"


class TypedDecoder:
    """The schema's fields as a ``msgspec`` struct (see the module docstring).

    ``decode(line)`` returns the struct or raises one of :data:`ERRORS`; ``attrs`` maps each
    field to its attribute (a missing optional field holds :data:`UNSET`); ``as_dict(struct)``
    is the record, in the schema's order, without missing optional fields.
    """

    def __init__(self, schema: Schema):
        self.schema = schema
        self.attrs = {f.name: _attribute(i, f.name) for i, f in enumerate(schema.fields)}
        record_type = msgspec.defstruct(
            "Record",
            [(self.attrs[f.name], _field_type(f)) if f.required else
             (self.attrs[f.name], _field_type(f), UNSET) for f in schema.fields],
            rename={a: n for n, a in self.attrs.items() if a != n} or None,
            kw_only=True, forbid_unknown_fields=True, gc=False)  # scalars only: no cycles
        self.decode = msgspec.json.Decoder(record_type).decode
        plain = all(f.required for f in schema.fields) and \
            all(a == n for n, a in self.attrs.items())
        # asdict is the cheaper; to_builtins also renames and leaves out UNSET fields.
        self.as_dict = msgspec.structs.asdict if plain else msgspec.to_builtins


class StructAccess:
    """:class:`~streamdash.pipeline.rules.base.Access` to the typed decoder's struct ``rec``:
    attribute reads and writes; a field the schema does not declare is never there."""

    record = "AS_DICT(rec)"

    def __init__(self, decoder: TypedDecoder):
        self.attrs = decoder.attrs
        self.optional = frozenset(f.name for f in decoder.schema.fields if not f.required)

    def read(self, name: str, const: str) -> str:
        """``rec.attr`` (``None`` for a missing optional field or an undeclared one)."""
        attr = self.attrs.get(name)
        if attr is None:
            return "None"
        if name in self.optional:
            return f"(None if rec.{attr} is UNSET else rec.{attr})"
        return f"rec.{attr}"

    def write(self, name: str, const: str, expr: str) -> str | None:
        """``rec.attr = expr``; ``None`` for an undeclared field (the struct has no slot)."""
        attr = self.attrs.get(name)
        return None if attr is None else f"rec.{attr} = {expr}"


def typed_decoder(schema: Schema) -> TypedDecoder | None:
    """The typed decoder of ``schema``, or ``None`` when a field's type cannot be expressed
    (``any``: nested values, which ``msgspec`` and ``orjson`` do not decode alike)."""
    if not schema.fields or any(f.type not in TYPES for f in schema.fields):
        return None
    return TypedDecoder(schema)
