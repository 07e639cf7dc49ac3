"""The generated checks of a schema's fields, as lines of Python source.

:class:`FieldChecks` writes, for :class:`~streamdash.pipeline.validator.Validator`'s compiled
loops, the code that checks one record: every rule of every field on a decoded dict
(:meth:`FieldChecks.record`), or only what the typed decoder left on its struct
(:meth:`FieldChecks.residual`). Every user value is bound in the namespace ``ns`` under a
name chosen here (``F0``, ``MIN0`` …), never pasted into the source.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .schema import FieldSpec, Schema
from .typed import literal_allowed

#: A check failed: the record is invalid.
FAIL = "bad_append(rec); continue"
#: A line the typed decoder accepted fails a residual check: quarantine it decoded the exact
#: way, the record the dict loop would have rejected.
FAIL_TYPED = "bad_append(SLOW(line)); continue"


class Lines:
    """Accumulates generated lines with indentation."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, depth: int, line: str) -> None:
        """Append ``line``, ``depth`` levels deep."""
        self.lines.append("    " * depth + line)

    def embed(self, depth: int, other: Lines) -> None:
        """Append ``other``'s lines, ``depth`` levels deeper."""
        self.lines.extend("    " * depth + line for line in other.lines)

    def text(self) -> str:
        """The source text."""
        return "\n".join(self.lines) + "\n"


class FieldChecks:
    """Writes the checks of ``schema``'s fields; ``parsers`` and ``patterns`` are the
    validator's timestamp parsers and compiled patterns, by field name."""

    def __init__(self, schema: Schema, parsers: dict[str, Any], patterns: dict[str, Any]):
        self.schema = schema
        self.parsers = parsers
        self.patterns = patterns

    def record(self, ns: dict[str, Any]) -> Lines:
        """Every check of a decoded ``rec`` (relative depth 0)."""
        src = Lines()
        src.add(0, "if type(rec) is not DICT:")
        src.add(1, FAIL)
        if self.schema.unknown == "reject":
            src.add(0, "if not KNOWN_HAS_ALL(rec):")
            src.add(1, FAIL)
        # Required fields are read with rec[F] (much cheaper than rec.get); a missing one
        # raises KeyError, caught once around the whole record (free in 3.11 when not raised).
        src.add(0, "try:")
        for i, spec in enumerate(self.schema.fields):
            self.field(src, ns, i, spec, 1, FAIL)
        if src.lines[-1] == "try:":
            src.add(1, "pass")
        src.add(0, "except KeyError:")
        src.add(1, FAIL)
        if self.schema.unknown == "drop":
            src.add(0, "if not KNOWN_HAS_ALL(rec):")
            src.add(1, "DROP_UNKNOWN(rec)")
        return src

    def residual(self, ns: dict[str, Any], attrs: dict[str, str]) -> Lines:
        """The checks left once the typed decoder accepted the struct ``rec`` (it checked
        presence, types, nulls, unknown fields and ``allowed`` strings): a failure
        quarantines the line decoded the exact way, the record ``run`` would have rejected."""
        src = Lines()
        for i, spec in enumerate(self.schema.fields):
            self.field(src, ns, i, spec, 0, FAIL_TYPED, attr=attrs[spec.name])
        return src

    def field(self, src: Lines, ns: dict[str, Any], i: int, spec: FieldSpec, b: int,
              fail: str, attr: str | None = None) -> None:
        """The checks of field ``i`` at depth ``b`` on the dict ``rec``, or with ``attr``
        (its attribute) those the typed decoder does not make on its struct ``rec``."""
        t = spec.type
        checked = attr is not None
        residual = t == "timestamp" or spec.min is not None or spec.max is not None \
            or spec.max_length is not None or spec.pattern is not None \
            or (spec.allowed is not None and not literal_allowed(spec))
        if checked and not residual and not spec.nullable:
            return  # nothing left to check, no null to count
        if checked:
            src.add(b, f"v = rec.{attr}")
        elif spec.required:
            src.add(b, f"v = rec[F{i}]")
        else:
            src.add(b, f"v = rec.get(F{i}, MISSING)")
        if spec.required and not spec.nullable and t != "any":
            # None fails every type check: no separate branch.
            d = b
        elif spec.required:
            src.add(b, "if v is None:")
            src.add(b + 1, f"n{i} += 1" if spec.nullable else fail)
            src.add(b, "else:")
            d = b + 1
            src.add(d, "pass")
        else:
            src.add(b, "if v is None:")
            if spec.nullable:
                src.add(b + 1, f"n{i} += 1")
            else:
                src.add(b + 1, fail)
            src.add(b, "elif v is UNSET:" if checked else "elif v is MISSING:")
            src.add(b + 1, "pass")
            src.add(b, "else:")
            d = b + 1
            src.add(d, "pass")
        if not checked:
            self.type_check(src, d, t, fail)

        def add_bounds(value: str) -> None:
            """The field's min and max checks on ``value`` (the value, or its epoch seconds)."""
            for name, bound, op in (("MIN", spec.min, "<"), ("MAX", spec.max, ">")):
                if bound is not None:
                    ns[f"{name}{i}"] = bound
                    src.add(d, f"if {value} {op} {name}{i}:")
                    src.add(d + 1, fail)

        if t == "timestamp":
            parser = self.parsers[spec.name]
            ns[f"SECONDS{i}"] = parser.seconds
            ns[f"SLOW{i}"] = parser.slow
            # Fast path: a canonical 'YYYY-MM-DDTHH:MM:SS.mmmZ' whose second is cached;
            # anything else (a miss, another shape or type) raises and goes the slow way.
            src.add(d, "try:")
            src.add(d + 1, f"t{i} = (SECONDS{i}[v[SECOND]] + TAILS[v[TAIL]]) / 1000")
            src.add(d, "except (KeyError, TypeError, IndexError):")
            src.add(d + 1, f"t{i} = SLOW{i}(v)")
            src.add(d + 1, f"if t{i} is None:")
            src.add(d + 2, fail)
            src.add(d + 1, "if not IS_CANONICAL(v):")
            # On a dict the rewrite waits for the whole record to pass; a struct that fails
            # later is dropped (its line is quarantined decoded afresh), so it can be now.
            src.add(d + 2, f"rec.{attr} = UTC_ISO(t{i})" if checked
                    else f"fixes.append((rec, F{i}, t{i}))")
            add_bounds(f"t{i}")  # on the epoch seconds
            return
        add_bounds("v")
        if spec.max_length is not None:
            ns[f"MAXLEN{i}"] = spec.max_length
            src.add(d, f"if type(v) is STR and len(v) > MAXLEN{i}:")
            src.add(d + 1, fail)
        if spec.allowed is not None and not (checked and literal_allowed(spec)):
            ns[f"ALLOWED{i}"] = spec.allowed
            if all(type(a) is str for a in spec.allowed):  # inline the common case
                src.add(d, f"if type(v) is not STR or v not in ALLOWED{i}:")
            else:
                ns[f"ALLOWED_HAS{i}"] = allowed_check(spec.allowed)
                src.add(d, f"if not ALLOWED_HAS{i}(v):")
            src.add(d + 1, fail)
        if spec.pattern is not None:
            ns[f"PATTERN{i}"] = self.patterns[spec.name].fullmatch
            src.add(d, f"if PATTERN{i}(v) is None:")
            src.add(d + 1, fail)

    @staticmethod
    def type_check(src: Lines, d: int, t: str, fail: str) -> None:
        """The type check of a value ``v`` of type ``t`` at depth ``d``."""
        if t in ("str", "int", "bool"):
            src.add(d, f"if type(v) is not {t.upper()}:")
            src.add(d + 1, fail)
        elif t in ("float", "scalar"):
            src.add(d, "tv = type(v)")
            src.add(d, "if tv is FLOAT:")
            src.add(d + 1, "if not -INF < v < INF:")
            src.add(d + 2, fail)
            src.add(d, "elif tv is not INT:" if t == "float" else
                    "elif tv is not STR and tv is not INT and tv is not BOOL:")
            src.add(d + 1, fail)


class _Missing:
    """A field absent from a dict (``rec.get(name, MISSING)``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()


def allowed_check(allowed: frozenset) -> Callable[[Any], bool]:
    """Membership that tells ``True`` from ``1`` (a plain set test does not)."""
    bools = frozenset(a for a in allowed if type(a) is bool)
    others = frozenset(a for a in allowed if type(a) is not bool)
    if not bools and all(type(a) is str for a in others):
        # The common case (allowed strings): one exact membership test.
        def check_str(v: Any) -> bool:
            return type(v) is str and v in others
        return check_str

    def check(v: Any) -> bool:
        try:
            return v in (bools if type(v) is bool else others)
        except TypeError:  # unhashable (a nested object or list)
            return False
    return check
