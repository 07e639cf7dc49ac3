"""The validator compiled from a :class:`~streamdash.pipeline.schema.Schema`.

:class:`Validator` compiles the schema once into a specialised batch function: Python source
generated from a fixed template in which every name is chosen here (``F0``, ``MIN0`` …) and
every user value — field names, bounds, allowed sets, patterns — is bound as a constant in the
function's namespace, never pasted into the source. The compiled loop only decides *whether*
a record is valid; a rejected record is then re-examined by :meth:`Validator.reasons`, a plain
interpreter of the same rules that lists *every* reason. The two are kept in agreement by a
property test. Rules that are :class:`~streamdash.pipeline.rules.base.Fusable` run inside the
compiled loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from ..models import utc_iso
from .chain import excerpt
from .jsonl import Unparsed
from .regex import compile_pattern
from .rules.base import Fusable, Fused
from .schema import FieldSpec, Schema
from .timestamps import TAILS, TimestampParser, is_canonical

INF = math.inf


class _Source:
    """Accumulates generated lines with indentation."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


FAIL = "bad_append(rec); continue"


class Validator:
    """The schema compiled into a fast batch check plus an exhaustive reason finder.

    ``rules`` are transformation rules to fuse into the compiled loop (the longest prefix
    that is :class:`~streamdash.pipeline.rules.base.Fusable`; :attr:`fused` lists them).

    ``run(records)`` returns ``(valid, times, invalid, nulls)``: the valid records in order,
    their event times (epoch seconds; ``None`` per record when the schema has no event time),
    the invalid inputs in order, and null counts per nullable field. Timestamps that are not
    already in the canonical form are rewritten, on valid records only, to
    ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC).
    """

    def __init__(self, schema: Schema, rules: Sequence[Any] = ()):
        self.schema = schema
        self.parsers = {f.name: TimestampParser(f.unit) for f in schema.fields
                        if f.type == "timestamp"}
        self.patterns = {f.name: compile_pattern(f"schema.fields.{f.name}.pattern", f.pattern)
                         for f in schema.fields if f.pattern}
        self.known = frozenset(schema.names)
        #: Fields every valid record has (read by subscript in fused rules).
        self.present = frozenset(f.name for f in schema.fields if f.required)
        self.fused: list[Any] = []
        self.source_code, self._run = self._compile(list(rules))

    # The generated loop.  Each field i reads ``v = rec.get(F{i}, MISSING)`` and runs the
    # checks its spec asks for; any failure appends the record to ``bad`` and moves on.
    def _compile(self, rules: list[Any]) -> tuple[str, Callable]:
        schema = self.schema
        ns: dict[str, Any] = {"MISSING": _MISSING, "DICT": dict, "STR": str, "INT": int,
                              "FLOAT": float, "BOOL": bool, "INF": INF, "TAILS": TAILS,
                              "KNOWN": self.known, "KNOWN_HAS_ALL": self.known.issuperset,
                              "DROP_UNKNOWN": self._drop_unknown,
                              "IS_CANONICAL": is_canonical}
        src = _Source()
        nullable = [i for i, f in enumerate(schema.fields) if f.nullable]
        # Rules that can, run inside the loop (see rules/base.py, Fusable): the longest
        # prefix of the chain whose rules offer code.
        fused: list[Fused] = []
        for j, rule in enumerate(rules):
            code = rule.fuse(j, self.present, ns) if isinstance(rule, Fusable) else None
            if code is None:
                break
            fused.append(code)
            self.fused.append(rule)
        keep_times = not rules or len(self.fused) < len(rules)
        src.add(0, "def run(records, ctx):")
        src.add(1, "tmax = -INF")
        for setup, _, _ in fused:
            for line in setup:
                src.add(1, line)
        src.add(1, "ok = []; ok_append = ok.append")
        src.add(1, "times = []; times_append = times.append")
        src.add(1, "bad = []; bad_append = bad.append")
        src.add(1, "fixes = []")
        for i in nullable:
            src.add(1, f"n{i} = 0")
        src.add(1, "for rec in records:")
        src.add(2, "if type(rec) is not DICT:")
        src.add(3, FAIL)
        if schema.unknown == "reject":
            src.add(2, "if not KNOWN_HAS_ALL(rec):")
            src.add(3, FAIL)
        # Required fields are read with rec[F] (much cheaper than rec.get); a missing one
        # raises KeyError, caught once around the whole record (free in 3.11 when not raised).
        src.add(2, "try:")
        inner = _Source()
        for i, spec in enumerate(schema.fields):
            ns[f"F{i}"] = spec.name
            self._emit_field(inner, ns, i, spec)
        for line in inner.lines or ["        pass"]:
            src.lines.append("    " + line)
        src.add(2, "except KeyError:")
        src.add(3, FAIL)
        if schema.unknown == "drop":
            src.add(2, "if not KNOWN_HAS_ALL(rec):")
            src.add(3, "DROP_UNKNOWN(rec)")
        et = schema.names.index(schema.event_time) if schema.event_time else None
        if fused:
            if et is not None:
                src.add(2, f"t = t{et}")
                src.add(2, "if t > tmax:")
                src.add(3, "tmax = t")
            for _, body, _ in fused:
                for line in body:
                    src.add(2, line)
        src.add(2, "ok_append(rec)")
        if keep_times:
            src.add(2, f"times_append(t{et})" if et is not None else "times_append(None)")
        for _, _, teardown in fused:
            for line in teardown:
                src.add(1, line)
        src.add(1, "return ok, times, bad, fixes, {" +
                ", ".join(f"F{i}: n{i}" for i in nullable) + "}")
        code = src.text()
        exec(compile(code, f"<streamdash schema validator {id(self):x}>", "exec"), ns)  # noqa: S102 - generated from a fixed template, no user text
        return code, ns["run"]

    def _emit_field(self, src: _Source, ns: dict[str, Any], i: int, spec: FieldSpec) -> None:
        if spec.required:
            src.add(2, f"v = rec[F{i}]")
        else:
            src.add(2, f"v = rec.get(F{i}, MISSING)")
        if spec.required and not spec.nullable and spec.type != "any":
            # None fails every type check: no separate branch.
            d = 2
        elif spec.required:
            src.add(2, "if v is None:")
            src.add(3, f"n{i} += 1" if spec.nullable else FAIL)
            src.add(2, "else:")
            d = 3
            src.add(d, "pass")
        else:
            src.add(2, "if v is None:")
            if spec.nullable:
                src.add(3, f"n{i} += 1")
            else:
                src.add(3, FAIL)
            src.add(2, "elif v is MISSING:")
            src.add(3, FAIL if spec.required else "pass")
            src.add(2, "else:")
            d = 3
            src.add(d, "pass")
        t = spec.type
        if t == "str":
            src.add(d, "if type(v) is not STR:")
            src.add(d + 1, FAIL)
        elif t == "int":
            src.add(d, "if type(v) is not INT:")
            src.add(d + 1, FAIL)
        elif t == "float":
            src.add(d, "tv = type(v)")
            src.add(d, "if tv is FLOAT:")
            src.add(d + 1, "if not -INF < v < INF:")
            src.add(d + 2, FAIL)
            src.add(d, "elif tv is not INT:")
            src.add(d + 1, FAIL)
        elif t == "bool":
            src.add(d, "if type(v) is not BOOL:")
            src.add(d + 1, FAIL)
        elif t == "scalar":
            src.add(d, "tv = type(v)")
            src.add(d, "if tv is FLOAT:")
            src.add(d + 1, "if not -INF < v < INF:")
            src.add(d + 2, FAIL)
            src.add(d, "elif tv is not STR and tv is not INT and tv is not BOOL:")
            src.add(d + 1, FAIL)
        elif t == "timestamp":
            parser = self.parsers[spec.name]
            ns[f"SECONDS{i}"] = parser.seconds
            ns[f"SLOW{i}"] = parser.slow
            # Fast path: a canonical 'YYYY-MM-DDTHH:MM:SS.mmmZ' whose second is cached;
            # anything else (a miss, another shape or type) raises and goes the slow way.
            src.add(d, "try:")
            src.add(d + 1, f"t{i} = (SECONDS{i}[v[:19]] + TAILS[v[19:]]) / 1000")
            src.add(d, "except (KeyError, TypeError, IndexError):")
            src.add(d + 1, f"t{i} = SLOW{i}(v)")
            src.add(d + 1, f"if t{i} is None:")
            src.add(d + 2, FAIL)
            src.add(d + 1, "if not IS_CANONICAL(v):")
            src.add(d + 2, f"fixes.append((rec, F{i}, t{i}))")
            if spec.min is not None:
                ns[f"MIN{i}"] = spec.min
                src.add(d, f"if t{i} < MIN{i}:")
                src.add(d + 1, FAIL)
            if spec.max is not None:
                ns[f"MAX{i}"] = spec.max
                src.add(d, f"if t{i} > MAX{i}:")
                src.add(d + 1, FAIL)
        if t != "timestamp":
            if spec.min is not None:
                ns[f"MIN{i}"] = spec.min
                src.add(d, f"if v < MIN{i}:")
                src.add(d + 1, FAIL)
            if spec.max is not None:
                ns[f"MAX{i}"] = spec.max
                src.add(d, f"if v > MAX{i}:")
                src.add(d + 1, FAIL)
            if spec.max_length is not None:
                ns[f"MAXLEN{i}"] = spec.max_length
                src.add(d, f"if type(v) is STR and len(v) > MAXLEN{i}:")
                src.add(d + 1, FAIL)
            if spec.allowed is not None:
                ns[f"ALLOWED{i}"] = spec.allowed
                if all(type(a) is str for a in spec.allowed):  # inline the common case
                    src.add(d, f"if type(v) is not STR or v not in ALLOWED{i}:")
                else:
                    ns[f"ALLOWED_HAS{i}"] = _allowed_check(spec.allowed)
                    src.add(d, f"if not ALLOWED_HAS{i}(v):")
                src.add(d + 1, FAIL)
            if spec.pattern is not None:
                ns[f"PATTERN{i}"] = self.patterns[spec.name].fullmatch
                src.add(d, f"if PATTERN{i}(v) is None:")
                src.add(d + 1, FAIL)

    def _drop_unknown(self, rec: dict[str, Any]) -> None:
        for k in [k for k in rec if k not in self.known]:
            del rec[k]

    def run(self, records: list[Any], ctx: Any = None) -> tuple[list[dict], list, list[Any],
                                                                dict[str, int]]:
        """Split ``records`` into valid and invalid ones (see the class docstring); with fused
        rules, ``valid`` holds what the last fused rule let through (``times`` is then empty
        when no rule follows), and ``ctx`` (a ``BatchContext``) receives their counts."""
        ok, times, bad, fixes, nulls = self._run(records, ctx)
        if fixes:
            self._apply_fixes(fixes, bad)
        if bad and nulls:
            # The loop counts a null before a later field can fail the record; nulls are a
            # tally of valid records, so take back those of the invalid ones (few per batch).
            for rec in bad:
                if type(rec) is dict:
                    for name in nulls:
                        if name in rec and rec[name] is None:
                            nulls[name] -= 1
        return ok, times, bad, {k: n for k, n in nulls.items() if n}

    @staticmethod
    def _apply_fixes(fixes: list[tuple[dict, str, float]], bad: list[Any]) -> None:
        rejected = {id(r) for r in bad}
        for rec, name, t in fixes:
            if id(rec) not in rejected:
                rec[name] = utc_iso(t)

    def reasons(self, rec: Any) -> list[dict[str, Any]]:
        """Every reason ``rec`` is invalid (``[]`` when it is valid); never raises."""
        if isinstance(rec, Unparsed):
            return [{"field": None, "rule": "json", "value": excerpt(rec.text)}]
        if type(rec) is not dict:
            return [{"field": None, "rule": "object", "value": excerpt(rec)}]
        out: list[dict[str, Any]] = []
        if self.schema.unknown == "reject":
            for k in rec:
                if k not in self.known:
                    out.append({"field": str(k), "rule": "unknown", "value": excerpt(rec[k])})
        for spec in self.schema.fields:
            out.extend(self._field_reasons(spec, rec))
        return out

    def _field_reasons(self, spec: FieldSpec, rec: dict[str, Any]) -> list[dict[str, Any]]:
        name = spec.name
        if name not in rec:
            return [{"field": name, "rule": "required", "value": None}] if spec.required else []
        v = rec[name]
        if v is None:
            return [] if spec.nullable else [{"field": name, "rule": "null", "value": None}]

        def reason(rule: str) -> list[dict[str, Any]]:
            return [{"field": name, "rule": rule, "value": excerpt(v)}]

        t = spec.type
        tv = type(v)
        type_ok = {"str": tv is str, "int": tv is int, "bool": tv is bool,
                   "float": tv is float or tv is int,
                   "scalar": tv in (float, int, str, bool)}.get(t, True)
        if not type_ok:
            return reason("type")
        if tv is float and t in ("float", "scalar") and not math.isfinite(v):
            return reason("finite")
        if t == "timestamp":
            tval = self.parsers[name](v)
            if tval is None:
                return reason("timestamp")
            v_cmp = tval
        else:
            v_cmp = v
        out: list[dict[str, Any]] = []
        if spec.min is not None and v_cmp < spec.min:
            out += reason("min")
        if spec.max is not None and v_cmp > spec.max:
            out += reason("max")
        if spec.max_length is not None and tv is str and len(v) > spec.max_length:
            out += reason("max_length")
        if spec.allowed is not None and not _allowed_check(spec.allowed)(v):
            out += reason("allowed")
        if spec.pattern is not None and self.patterns[name].fullmatch(v) is None:
            out += reason("pattern")
        return out


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def _allowed_check(allowed: frozenset) -> Callable[[Any], bool]:
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
