"""The configured processor: schema validation, then the ordered transformation rules.

``transforms`` in the settings is an ordered list; each item names one rule with its
parameters, either as ``{dedup: {ttl: 600}}``, as ``{rule: dedup, ttl: 600}`` or as the bare
name ``dedup`` (all defaults)::

    transforms:
      - dedup: {key: id, ttl: 600, max_keys: 1000000}
      - filter: {field: value, op: gt, value: -50}
      - convert: {field: value, unit_field: unit, to: C}
      - derive: {field: feels_like, expr: "value * 1.8 + 32", when: {field: unit, op: eq, value: C}}
      - outlier: {field: value, key: sensor, window: 100, threshold: 3}
      - late: {lateness: 30, advance: batch}
      - window: {kind: tumbling, size: 10, key: sensor, field: value, idle_timeout: 60}

Without a ``transforms`` setting the chain is ``dedup`` (when the schema has a key), then
``late`` and a 10 s tumbling ``window`` on the source's value field per key (when the schema
has an event time). ``transforms: []`` means no rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError, unknown_key
from ..models import Batch, ProcessResult, Rejection
from ..params import parse
from ..sources.base import FieldHints
from .jsonl import Unparsed
from .rules import RULES, BatchContext, EndsBatch, Holds, RuleContext, Stateful, Windows
from .rules.base import Publish
from .schema import Schema
from .validator import Validator

#: Raw lines decoded by orjson and validated together (small enough to stay in the CPU
#: cache). The typed decoder checks each line as it decodes it: it takes a batch at once.
CHUNK = 128
#: The format of :meth:`Pipeline.export_state` (each rule's part has its own version too).
STATE_VERSION = 1


class Pipeline:
    """Validates a batch against the schema, quarantines the invalid records with every
    reason, and runs the rules in order (see the module docstring).

    ``publish(topic, payload)`` receives closed windows (``window``) and late records
    (``late``); the runtime passes its event bus. ``tick()`` (called by the consumer when the
    queue is idle) closes idle windows; ``flush()`` closes every window. ``fuse=False`` runs
    every rule batch by batch (the reference the fused loop is tested against); ``typed=False``
    decodes raw lines with ``orjson`` only (the reference the typed decoder is tested against).

    ``export_state()``/``restore_state()`` carry the rules' cross-batch state (dedup keys,
    watermarks, open windows: the :class:`~.rules.Stateful` ones) to another pipeline of the
    same configuration, e.g. in a worker taking a stream over; ``changes`` counts what may have
    changed it (batches, ticks and flushes that released something), so a caller can tell
    that nothing did.
    """

    def __init__(self, schema: Schema, rules: list[Any], *, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, fuse: bool = True,
                 typed: bool = True):
        self.schema = schema
        # The leading rules that can are fused into the validator's compiled loop; the rest
        # run batch by batch after it (same decisions either way; fusion walks the batch once).
        self.validator = Validator(schema, rules if fuse else (), typed=typed)
        self.rules = rules
        self.staged = rules[len(self.validator.fused):]
        self.clock = clock
        self.monotonic = monotonic
        #: The window rules (the dashboard describes the first one).
        self.windows = [r for r in rules if isinstance(r, Windows)]
        self.holding = [r for r in rules if isinstance(r, Holds)]
        self.ends = [r.end_batch for r in rules if isinstance(r, EndsBatch)]
        #: ``"<position>:<name>"`` → rule, for the rules with state across batches.
        self.stateful = {f"{i}:{r.name}": r for i, r in enumerate(rules)
                         if isinstance(r, Stateful)}
        self.nulls: dict[str, int] = {}
        self.changes = 0

    def process(self, records: list[Any], batch: Batch) -> ProcessResult:
        """Validate and transform one batch; every input ends in exactly one outcome.

        ``records`` are decoded records, or raw JSON lines (``bytes``, as a JSON Lines source
        reads them): those are decoded by the schema's typed decoder (:mod:`.typed`) and
        checked one by one, or, without one, decoded by orjson and validated in chunks of
        :data:`CHUNK` while still in the CPU cache; the outcome is the same.
        """
        now = self.clock()
        self.changes += 1
        ctx = BatchContext(now=now, mono=self.monotonic(), source=batch.source)
        # Raw lines may come mixed with decoded records (a push source hands over the JSON
        # objects it has nothing to map on, and decodes the rest itself): the lines' path
        # takes decoded records as they are, the dicts' path would refuse a line.
        if records and (type(records[0]) is bytes or bytes in set(map(type, records))):
            ok, times, bad, nulls = self._run_lines(records, ctx)
        else:
            ok, times, bad, nulls = self.validator.run(records, ctx)
        if bad:  # lazily explained (see ``rejection``), inlined for the common dict case
            src, explain = batch.source, self.explain
            rejected = [Rejection(r, None, src, now, explain=explain) if type(r) is dict
                        else self.rejection(r, src, now) for r in bad]
        else:
            rejected = []
        for rule in self.staged:
            ok, times = rule(ok, times, ctx)
        for end in self.ends:  # the watermark moves and windows close once per batch
            end(ctx)
        for name, n in nulls.items():
            self.nulls[name] = self.nulls.get(name, 0) + n
        return ProcessResult(ok, rejected, ctx.counts, nulls)

    def _run_lines(self, lines: list[Any], ctx: BatchContext) -> tuple[list, list, list, dict]:
        run = self.validator.run_lines
        if self.validator.typed is not None:
            # One call a batch: per-call work (the fused rules' set-up and tear-down, a dedup
            # generation) once instead of once per chunk, measured +6 % records/s.
            return run(lines, ctx)
        ok: list[dict] = []
        times: list = []
        bad: list[Any] = []
        nulls: dict[str, int] = {}
        for i in range(0, len(lines), CHUNK):
            o, t, b, n = run(lines[i:i + CHUNK], ctx)
            ok += o
            times += t
            bad += b
            for name, count in n.items():
                nulls[name] = nulls.get(name, 0) + count
        return ok, times, bad, nulls

    def rejection(self, record: Any, source: str, at: float) -> Rejection:
        """A quarantine entry for an invalid input; its reasons (every one) are found when
        first read, so rejecting costs about what accepting does (issue 13: a response of
        900k invalid objects took 9–19 s to reject, mostly formatting reasons no one read)."""
        if type(record) is Unparsed:
            return Rejection(record.text, None, source, at, explain=self.explain, subject=record)
        return Rejection(record, None, source, at, explain=self.explain)

    def explain(self, record: Any) -> list[dict[str, Any]]:
        """Every reason ``record`` is invalid (never empty: a record is never lost)."""
        return self.validator.reasons(record) or [
            {"field": None, "rule": "invalid", "value": None}]

    def tick(self) -> int:
        """Close windows idle for longer than their timeout; returns how many closed."""
        mono = self.monotonic()
        closed = sum(rule.tick(mono) for rule in self.holding)
        self.changes += closed > 0
        return closed

    def flush(self) -> int:
        """Close every open window (end of input or shutdown); returns how many closed."""
        closed = sum(rule.flush() for rule in self.holding)
        self.changes += closed > 0
        return closed

    # -- state across batches ------------------------------------------------------------------
    def export_state(self) -> dict[str, Any]:
        """The stateful rules' state, each under its place in the chain with its version:
        ``{v, rules: {"<i>:<name>": {v, state}}}`` (JSON-ready; call between batches)."""
        return {"v": STATE_VERSION,
                "rules": {place: {"v": rule.state_version, "state": rule.export_state()}
                          for place, rule in self.stateful.items()}}

    def restore_state(self, saved: dict[str, Any]) -> tuple[list[str], list[str]]:
        """Give each stateful rule its part of ``saved`` (an :meth:`export_state` of a
        pipeline of the same configuration), before the first batch.

        Returns ``(restored, refused)``: the places restored, and for each part not restored
        why (another format version, a rule this chain does not have at that place, a rule
        that found its part unfit); a refused rule keeps its empty state. Never raises for
        what ``saved`` holds.
        """
        if not isinstance(saved, dict) or saved.get("v") != STATE_VERSION:
            version = saved.get("v") if isinstance(saved, dict) else None
            return [], [f"keyed state of format version {version!r}, this pipeline reads "
                        f"version {STATE_VERSION}"]
        parts = saved.get("rules")
        if not isinstance(parts, dict):
            return [], ["keyed state without its rules"]
        restored: list[str] = []
        refused = [f"{place}: no such rule at that place in this chain"
                   for place in parts if place not in self.stateful]
        for place, rule in self.stateful.items():
            part = parts.get(place)
            if part is None:
                continue  # nothing saved for it (the chain grew): it starts empty
            if not isinstance(part, dict) or part.get("v") != rule.state_version \
                    or not isinstance(part.get("state"), dict):
                version = part.get("v") if isinstance(part, dict) else None
                refused.append(f"{place}: state of version {version!r}, the rule reads "
                               f"version {rule.state_version}")
                continue
            try:
                rule.restore_state(part["state"])
            except ValueError as exc:
                refused.append(f"{place}: {exc}")
            else:
                restored.append(place)
        self.changes += 1
        return restored, refused

    def stats(self) -> dict[str, Any]:
        """Counters of every rule, and null counts per field since start."""
        out: dict[str, Any] = {"nulls": dict(self.nulls)}
        for i, rule in enumerate(self.rules):
            name = rule.name if rule.name not in out else f"{rule.name}_{i}"
            out[name] = rule.stats()
        return out


# -- building from settings ------------------------------------------------------------------

def split_rule(item: Any, where: str) -> tuple[str, dict[str, Any]]:
    """``(name, params)`` of one ``transforms`` item (three accepted spellings)."""
    if isinstance(item, str):
        name, params = item, {}
    elif isinstance(item, dict) and "rule" in item:
        params = {k: v for k, v in item.items() if k != "rule"}
        name = item["rule"]
    elif isinstance(item, dict) and len(item) == 1:
        name, params = next(iter(item.items()))
        params = {} if params is None else params
    else:
        raise ConfigError(where, f"expected a rule name or {{name: {{params}}}}, got {item!r}")
    if name not in RULES:
        raise unknown_key(where, name, RULES, what=f"rule {name!r}")
    if not isinstance(params, dict):
        raise ConfigError(f"{where}.{name}", f"expected a mapping of parameters, got {params!r}")
    return name, params


def default_transforms(schema: Schema, hints: FieldHints) -> list[Any]:
    """The chain used when ``transforms`` is not set (see the module docstring)."""
    items: list[Any] = []
    if schema.key:
        items.append("dedup")
    if schema.event_time:
        items.append("late")
        value = hints.value_field
        if value and schema.field(value) is not None:
            items.append("window")
    return items


def build_rules(items: Any, schema: Schema, hints: FieldHints, *, publish: Publish | None,
                clock: Callable[[], float]) -> list[Any]:
    """The rule objects for the ``transforms`` list; ``ConfigError`` names the bad item.

    Each item's parameters are parsed by its class's ``Params`` model at
    ``transforms[i].<name>`` and the class builds the rule (``RULES``; see ``rules/base.py``).
    """
    if not isinstance(items, list):
        raise ConfigError("transforms", f"expected a list of rules, got {items!r}")
    context = RuleContext(schema, hints, publish=publish, clock=clock)
    rules: list[Any] = []
    for i, item in enumerate(items):
        name, raw = split_rule(item, f"transforms[{i}]")
        cls = RULES[name]
        context.where = f"transforms[{i}].{name}"
        rules.append(cls.build(parse(cls.Params, raw, context.where, what="parameter"),
                               context))
    return rules
