"""The ``dedup`` rule: drops repeated keys within a time-to-live of event time."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from ...errors import ConfigError
from ...params import Duration, Int
from ...params import Params as BaseParams
from .base import Access, BatchContext, Fused, RuleContext, column, shape, time_in, time_out

#: Default ``ttl`` (seconds of event time); a snapshot source's keys must outlive its span,
#: so for one it is twice ``FieldHints.snapshot_span`` when that is longer.
DEDUP_TTL = 600.0


class Dedup:
    """Drops records whose ``key`` was seen within ``ttl`` seconds of event time.

    ``key`` is a field name, or a tuple of names: the first is the record's identity, the
    others tell versions of it apart (``("id", "updated")`` keeps a quake again when USGS
    updates it); such a record is keyless when its first field is missing or null.

    Keys are remembered in generations (one per batch) that expire together once the newest
    time in the generation is more than ``ttl`` behind the newest time seen, so memory stays
    bounded by the key rate times the TTL; ``max_keys`` is a hard cap on top (the oldest
    generations go first; ``evicted`` counts keys forgotten early that way). Records without
    a key (missing or null) are never duplicates. The first record with a key is kept.

    The remembered keys are held in two sets: new keys go into ``young``; ``old`` holds the
    oldest generations and is only ever removed from, and when it is empty the young set
    becomes the old one. One set taking inserts and removals would accumulate deleted slots
    until CPython rebuilt it, with every live key, every ~20 batches at the default TTL (~1.5
    ms, the slowest 4 % of the benchmark's batches); a set that only grows and one that only
    shrinks are never rebuilt for their deleted slots. A key is looked up in both.

    Its state (:class:`~.base.Stateful`) is the generations: ``{key, newest, generations:
    [[time, [keys…]], …]}``, a key a JSON scalar, or an array for a key of several fields.
    """

    name = "dedup"
    state_version = 1

    class Params(BaseParams):
        """``dedup`` settings: ``key`` defaults to ``schema.key``, ``ttl`` to 600 s."""

        key: str | list[str] | None = None
        # None: the default depends on the source (see build); params._bounds reads the
        # range only on a plain (not optional) annotation.
        ttl: Duration = Field(None, ge=0)
        max_keys: Annotated[Int, Field(ge=1)] = 1_000_000

    @classmethod
    def build(cls, params: Dedup.Params, context: RuleContext) -> Dedup:
        """A dedup on declared scalar fields (the TTL runs on processing time without an
        event time)."""
        schema, where = context.schema, f"{context.where}.key"
        raw = params.key if "key" in params.model_fields_set else schema.key
        keys = raw if isinstance(raw, list) and raw else [raw]
        for key in keys:
            key = context.field_name("key", key)
            spec = schema.field(key)
            if spec is None or spec.type == "any":
                raise ConfigError(where, f"field {key!r} must be declared in the schema with a "
                                         "scalar type")
        ttl = params.ttl if params.ttl is not None else \
            max(DEDUP_TTL, 2 * context.hints.snapshot_span)
        return cls(tuple(keys), ttl=ttl, max_keys=params.max_keys,
                   clock=None if schema.event_time else context.clock)

    def __init__(self, key: str | tuple[str, ...], ttl: float = DEDUP_TTL,
                 max_keys: int = 1_000_000, clock: Callable[[], float] | None = None):
        self.key = key if isinstance(key, str) or len(key) > 1 else key[0]
        self.ttl = ttl
        self.max_keys = max_keys
        self.clock = clock
        #: New keys (the newest generations); ``old``: the ``old_gens`` oldest generations'.
        self.young: set[Any] = set()
        self.old: set[Any] = set()
        self.old_gens = 0
        self.generations: deque[tuple[float, list[Any]]] = deque()
        self.newest = -math.inf
        self.duplicates = 0
        self.evicted = 0

    @property
    def seen(self) -> set[Any]:
        """Every remembered key (a new set)."""
        return self.young | self.old

    def __call__(self, records: list[dict], times: list, ctx: BatchContext) -> tuple[list, list]:
        young, old = self.young, self.old
        add = young.add
        key = self.key
        fresh: list[Any] = []
        fresh_append = fresh.append
        keep_r: list[dict] = []
        keep_t: list = []
        kr, kt = keep_r.append, keep_t.append
        dups = 0
        for rec, t, k in zip(records, times, self._keys(records, key), strict=True):
            if k in young or k in old:
                dups += 1
                continue
            if k is not None:
                add(k)
                fresh_append(k)
            kr(rec)
            kt(t)
        self.finish(fresh, dups, max(times) if times and times[0] is not None else None, ctx)
        return keep_r, keep_t

    @staticmethod
    def _keys(records: list[dict], key: str | tuple[str, ...]) -> list[Any]:
        if isinstance(key, str):
            return column(records, key)
        first, rest = key[0], key[1:]
        return [None if (k := r.get(first)) is None else (k, *(r.get(f) for f in rest))
                for r in records]

    def finish(self, fresh: list[Any], dups: int, newest: float | None,
               ctx: BatchContext) -> None:
        """After a batch: count duplicates, remember the batch's new keys, expire old ones."""
        if dups:
            ctx.counts["duplicate"] += dups
            self.duplicates += dups
        if newest is None:
            if self.clock is None:  # event time, but nothing new in this batch: time stands
                newest = self.newest
            else:  # no event time in the schema: the TTL runs on processing time
                newest = self.clock()
        if newest > self.newest:
            self.newest = newest
        if fresh:
            self.generations.append((newest, fresh))
        self._expire(newest)

    def fuse(self, j: int, access: Access, ns: dict[str, Any]) -> Fused:
        """Generated code doing :meth:`__call__`'s work inside the validator's loop."""
        ns[f"RULE_{j}"] = self
        names = (self.key,) if isinstance(self.key, str) else self.key
        reads = []
        for i, name in enumerate(names):
            ns[f"KEY_{j}_{i}"] = name
            reads.append(access.read(name, f"KEY_{j}_{i}"))
        setup = [f"young_{j} = RULE_{j}.young; old_{j} = RULE_{j}.old; "
                 f"seen_add_{j} = young_{j}.add",
                 f"fresh_{j} = []; fresh_append_{j} = fresh_{j}.append; dups_{j} = 0"]
        body = [f"k_{j} = {reads[0]}"]
        if len(reads) > 1:
            body += [f"if k_{j} is not None:",
                     f"    k_{j} = (k_{j}, {', '.join(reads[1:])})"]
        body += [f"if k_{j} in young_{j} or k_{j} in old_{j}:",
                 f"    dups_{j} += 1",
                 "    continue",
                 f"if k_{j} is not None:",
                 f"    seen_add_{j}(k_{j}); fresh_append_{j}(k_{j})"]
        return setup, body, [f"RULE_{j}.finish(fresh_{j}, dups_{j}, "
                             "tmax if tmax > -INF else None, ctx)"]

    def _expire(self, newest: float) -> None:
        cutoff = self.newest - self.ttl
        gens = self.generations
        while gens and (gens[0][0] < cutoff
                        or len(self.young) + len(self.old) > self.max_keys):
            gen_time, keys = gens.popleft()
            self._forget(keys)
            if gen_time >= cutoff:
                self.evicted += len(keys)

    def _forget(self, keys: list[Any]) -> None:
        """Remove the oldest generation's ``keys`` (already taken off ``generations``)."""
        if not self.old_gens:  # every generation is young: the young set becomes the old one
            self.old, self.young = self.young, set()
            self.old_gens = len(self.generations) + 1
        # discard, not difference_update: that one rebuilds a set a quarter deleted.
        any(map(self.old.discard, keys))
        self.old_gens -= 1
        if not self.old_gens:  # drained: a fresh set, not a table of deleted slots to probe
            self.old = set()

    # -- keyed state (the Stateful protocol) ---------------------------------------------------
    def _names(self) -> list[str]:
        return list(self.key) if isinstance(self.key, tuple) else [self.key]

    def export_state(self) -> dict[str, Any]:
        """The remembered keys by generation, oldest first (tuples become JSON arrays; a
        generation's list never changes once remembered, so it is not copied)."""
        return {"key": self._names(), "newest": time_out(self.newest),
                "generations": [[time_out(t), keys] for t, keys in self.generations]}

    def restore_state(self, state: dict[str, Any]) -> None:
        """Remember the keys of ``state`` (``ValueError``, nothing changed, when it does not
        fit this rule); ``max_keys`` applies to them as to new ones."""
        names = self._names()
        if state.get("key") != names:
            raise ValueError(f"dedup: saved for key {state.get('key')!r}, this rule's key is "
                             f"{names!r}")
        newest = time_in(state.get("newest"), "dedup.newest")
        generations: deque[tuple[float, list[Any]]] = deque()
        seen: set[Any] = set()
        check = _multi_key if len(names) > 1 else _scalar_key
        for i, gen in enumerate(shape(state.get("generations"), list, "dedup.generations")):
            where = f"dedup.generations[{i}]"
            if not isinstance(gen, list) or len(gen) != 2:
                raise ValueError(f"{where}: expected [time, [keys]]")
            keys = [check(k, len(names), where) for k in shape(gen[1], list, where)]
            generations.append((time_in(gen[0], where), keys))
            seen.update(keys)
        self.young, self.old, self.old_gens = set(), seen, len(generations)
        self.generations, self.newest = generations, newest
        self._expire(newest)

    def stats(self) -> dict[str, Any]:
        """Duplicates dropped, keys remembered, keys evicted before their TTL."""
        return {"duplicates": self.duplicates, "keys": len(self.young) + len(self.old),
                "evicted": self.evicted}


def _scalar_key(key: Any, _width: int, where: str) -> Any:
    """A saved one-field key: a JSON scalar (not null: keyless records are not remembered)."""
    if not isinstance(key, (str, int, float)):
        raise ValueError(f"{where}: a key must be a string or a number, got {type(key).__name__}")
    return key


def _multi_key(key: Any, width: int, where: str) -> tuple[Any, ...]:
    """A saved key of ``width`` fields: an array of scalars, the first not null."""
    if not isinstance(key, list) or len(key) != width or key[0] is None \
            or not all(k is None or isinstance(k, (str, int, float)) for k in key):
        raise ValueError(f"{where}: a key of {width} fields must be an array of {width} "
                         "scalars, the first not null")
    return tuple(key)
