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
from .checks import MISSING, FieldChecks, Lines, allowed_check
from .jsonl import Unparsed, decode_line, decode_lines
from .regex import compile_pattern
from .rules.base import DictAccess, Fusable, Fused
from .schema import FieldSpec, Schema
from .timestamps import SECOND, TAIL, TAILS, TimestampParser, is_canonical
from .typed import ERRORS, UNSET, StructAccess, typed_decoder

INF = math.inf


def _rewrite_times(rec: dict[str, Any], fixes: list[tuple[dict, str, float]]) -> None:
    """``rec`` passed every check: rewrite its non-canonical times (``fixes`` holds them,
    and those of records rejected since, which keep their text), then forget them all. Done
    before the fused rules, so a late record is handed on with its canonical time too."""
    for fixed, name, t in fixes:
        if fixed is rec:
            rec[name] = utc_iso(t)
    fixes.clear()


class Validator:
    """The schema compiled into a fast batch check plus an exhaustive reason finder.

    ``rules`` are transformation rules to fuse into the compiled loop (the longest prefix
    that is :class:`~streamdash.pipeline.rules.base.Fusable`; :attr:`fused` lists them).

    ``run(records)`` returns ``(valid, times, invalid, nulls)``: the valid records in order,
    their event times (epoch seconds; ``None`` per record when the schema has no event time),
    the invalid inputs in order, and null counts per nullable field. Timestamps that are not
    already in the canonical form are rewritten, on valid records only, to
    ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC).

    ``run_lines(lines)`` does the same for raw JSON lines, decoding each with the schema's
    :class:`~streamdash.pipeline.typed.TypedDecoder` (``typed=False``, or a schema it cannot
    express: with ``orjson``, then :meth:`run`); a line is invalid when it is not JSON
    (:class:`~streamdash.pipeline.jsonl.Unparsed`) or its value is.
    """

    def __init__(self, schema: Schema, rules: Sequence[Any] = (), *, typed: bool = True):
        self.schema = schema
        self.parsers = {f.name: TimestampParser(f.unit) for f in schema.fields
                        if f.type == "timestamp"}
        self.patterns = {f.name: compile_pattern(f"schema.fields.{f.name}.pattern", f.pattern)
                         for f in schema.fields if f.pattern}
        self.known = frozenset(schema.names)
        #: Fields every valid record has (read by subscript in fused rules).
        self.present = frozenset(f.name for f in schema.fields if f.required)
        self.checks = FieldChecks(schema, self.parsers, self.patterns)
        self.fused: list[Any] = []
        #: The msgspec decoder of raw lines (``None``: orjson, then the full checks).
        self.typed = typed_decoder(schema) if typed else None
        self.source_code, self._run, self._run_lines = self._compile(list(rules))

    # The generated loops.  ``run`` checks decoded records: each field i reads
    # ``v = rec[F{i}]`` (or ``.get``) and runs the checks its spec asks for; any failure
    # appends the record to ``bad`` and moves on.  ``run_lines`` (with a typed decoder)
    # first offers each raw line to msgspec, which checks presence and types in C; on the
    # struct it returns, only the residual checks run, then the fused rules (reading
    # attributes), and the record's dict is made when it is kept.  A line msgspec refuses
    # is decoded by orjson and goes exactly the way of ``run``.
    def _compile(self, rules: list[Any]) -> tuple[str, Callable, Callable | None]:
        schema = self.schema
        ns: dict[str, Any] = {"MISSING": MISSING, "DICT": dict, "STR": str, "INT": int,
                              "FLOAT": float, "BOOL": bool, "INF": INF, "TAILS": TAILS,
                              "SECOND": SECOND, "TAIL": TAIL,
                              "KNOWN": self.known, "KNOWN_HAS_ALL": self.known.issuperset,
                              "DROP_UNKNOWN": self._drop_unknown,
                              "IS_CANONICAL": is_canonical, "REWRITE_TIMES": _rewrite_times}
        for i, spec in enumerate(schema.fields):
            ns[f"F{i}"] = spec.name
        nullable = [i for i, f in enumerate(schema.fields) if f.nullable]
        # Rules that can, run inside the loop (see rules/base.py, Fusable): the longest
        # prefix of the chain whose rules offer code.
        fused: list[Fused] = []
        for j, rule in enumerate(rules):
            code = rule.fuse(j, DictAccess(self.present), ns) \
                if isinstance(rule, Fusable) else None
            if code is None:
                break
            fused.append(code)
            self.fused.append(rule)
        typed_bodies = self._typed_bodies(ns)
        keep_times = not rules or len(self.fused) < len(rules)
        head = Lines()
        head.add(1, "tmax = -INF")
        for setup, _, _ in fused:
            for line in setup:
                head.add(1, line)
        head.add(1, "ok = []; ok_append = ok.append")
        head.add(1, "times = []; times_append = times.append")
        head.add(1, "bad = []; bad_append = bad.append")
        head.add(1, "fixes = []")
        for i in nullable:
            head.add(1, f"n{i} = 0")
        foot = Lines()
        for _, _, teardown in fused:
            for line in teardown:
                foot.add(1, line)
        foot.add(1, "return ok, times, bad, {" +
                 ", ".join(f"F{i}: n{i}" for i in nullable) + "}")
        checks = self.checks.record(ns)
        tail = self._tail([body for _, body, _ in fused], "rec", keep_times, fixes=True)
        src = Lines()
        src.add(0, "def run(records, ctx):")
        src.embed(0, head)
        src.add(1, "for rec in records:")
        src.embed(2, checks)
        src.embed(2, tail)
        src.embed(0, foot)
        if typed_bodies is not None:
            src.add(0, "def run_lines(lines, ctx):")
            src.embed(0, head)
            src.add(1, "for line in lines:")
            src.add(2, "try:")
            src.add(3, "rec = FAST(line)")
            src.add(2, "except FAST_ERRORS:")
            src.add(3, "rec = SLOW(line)")
            src.embed(3, checks)
            src.embed(3, tail)
            src.add(3, "continue")
            src.embed(2, self.checks.residual(ns, self.typed.attrs))
            src.embed(2, self._tail(typed_bodies, "AS_DICT(rec)", keep_times))
            src.embed(0, foot)
        code = src.text()
        exec(compile(code, f"<streamdash schema validator {id(self):x}>", "exec"), ns)  # noqa: S102 - generated from a fixed template, no user text
        return code, ns["run"], ns.get("run_lines")

    def _typed_bodies(self, ns: dict[str, Any]) -> list[list[str]] | None:
        """The fused rules' bodies on the typed decoder's structs (``None``: no typed
        decoding, when there is no typed decoder or a fused rule cannot work on structs)."""
        if self.typed is None:
            return None
        access = StructAccess(self.typed)
        bodies = []
        for j, rule in enumerate(self.fused):
            code = rule.fuse(j, access, ns)
            if code is None:
                self.typed = None
                return None
            bodies.append(code[1])
        ns.update({"FAST": self.typed.decode, "FAST_ERRORS": ERRORS, "SLOW": decode_line,
                   "AS_DICT": self.typed.as_dict, "UNSET": UNSET, "UTC_ISO": utc_iso})
        return bodies

    def _tail(self, bodies: list[list[str]], keep: str, keep_times: bool,
              fixes: bool = False) -> Lines:
        """After validation (relative depth 0): with ``fixes``, the record's times rewritten
        (:func:`_rewrite_times`), the event time, the fused rules' ``bodies`` and the record
        kept (``keep``: the expression of its dict)."""
        tail = Lines()
        if fixes and self.parsers:
            tail.add(0, "if fixes:")
            tail.add(1, "REWRITE_TIMES(rec, fixes)")
        schema = self.schema
        et = schema.names.index(schema.event_time) if schema.event_time else None
        if bodies:
            if et is not None:
                tail.add(0, f"t = t{et}")
                tail.add(0, "if t > tmax:")
                tail.add(1, "tmax = t")
            for body in bodies:
                for line in body:
                    tail.add(0, line)
        tail.add(0, f"ok_append({keep})")
        if keep_times:
            tail.add(0, f"times_append(t{et})" if et is not None else "times_append(None)")
        return tail

    def _drop_unknown(self, rec: dict[str, Any]) -> None:
        for k in [k for k in rec if k not in self.known]:
            del rec[k]

    def run(self, records: list[Any], ctx: Any = None) -> tuple[list[dict], list, list[Any],
                                                                dict[str, int]]:
        """Split ``records`` into valid and invalid ones (see the class docstring); with fused
        rules, ``valid`` holds what the last fused rule let through (``times`` is then empty
        when no rule follows), and ``ctx`` (a ``BatchContext``) receives their counts."""
        return self._finish(*self._run(records, ctx))

    def run_lines(self, lines: list[Any], ctx: Any = None) -> tuple[list[dict], list,
                                                                   list[Any], dict[str, int]]:
        """:meth:`run` for raw JSON lines (``bytes``; anything else is decoded the exact way,
        an already decoded record taken as it is)."""
        if self._run_lines is None:
            return self.run(decode_lines(lines), ctx)
        return self._finish(*self._run_lines(lines, ctx))

    @staticmethod
    def _finish(ok: list[dict], times: list, bad: list[Any],
                nulls: dict[str, int]) -> tuple[list[dict], list, list[Any], dict[str, int]]:
        if bad and nulls:
            # The loop counts a null before a later field can fail the record; nulls are a
            # tally of valid records, so take back those of the invalid ones (few per batch).
            for rec in bad:
                if type(rec) is dict:
                    for name in nulls:
                        if name in rec and rec[name] is None:
                            nulls[name] -= 1
        return ok, times, bad, {k: n for k, n in nulls.items() if n}

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
        if spec.allowed is not None and not allowed_check(spec.allowed)(v):
            out += reason("allowed")
        if spec.pattern is not None and self.patterns[name].fullmatch(v) is None:
            out += reason("pattern")
        return out


