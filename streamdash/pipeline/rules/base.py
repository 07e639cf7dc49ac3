"""What every transformation rule shares: the batch context, the build context, the protocols.

A rule is a class that sets its own ``name`` in a module of :mod:`streamdash.pipeline.rules`;
the package finds it there and registers it in :data:`~streamdash.pipeline.rules.RULES`
under that name. It has:

* ``Params`` — a :class:`streamdash.params.Params` model of its settings (types and ranges
  declared on the fields; a bad value is a ``ConfigError`` at ``transforms[i].<name>.<param>``);
* ``build(params, context)`` — a classmethod returning the rule object from parsed parameters
  and the :class:`RuleContext` (schema, source hints, event sinks, the shared watermark);
* the object is a :class:`Rule`: ``rule(records, times, ctx) -> (records, times)`` with the
  batch's valid records, their event times (epoch seconds, parallel to ``records``) and the
  :class:`BatchContext`; a rule that removes records adds them to its outcome in
  ``ctx.counts`` (``duplicate``, ``filtered`` or ``late``), so the chain accounts for every one.
  ``stats()`` returns its own counters;
* ``example`` (optional) — the fewest parameters that build it, when some are required (the
  registry test builds every rule from its own; none means all have defaults).

Optional capabilities are protocols a rule implements or not; the processor checks them with
``isinstance``: :class:`EndsBatch` (work once per batch, after every chunk of it),
:class:`Holds` (state released on an idle tick or at the end of input), :class:`Fusable`
(code spliced into the schema validator's compiled loop) and :class:`Stateful` (state that
outlives a batch — dedup keys, the watermark, open windows — exported as JSON and restored,
so a worker taking a stream over goes on where the last one left it). A rule without one of
them simply has nothing of that kind: a stateless rule exports nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from ...errors import ConfigError

if TYPE_CHECKING:  # the schema imports nothing from the rules; only types flow this way
    from ...sources.base import FieldHints
    from ..schema import Schema
    from .watermark import Watermark

Sink = Callable[[list[dict[str, Any]]], None]
#: ``(setup lines, per-record body lines, teardown lines)`` of a fused rule.
Fused = tuple[list[str], list[str], list[str]]
Publish = Callable[[str, Any], None]


@dataclass
class BatchContext:
    """Per-batch state shared by the rules: outcome counts and the processing time."""

    counts: dict[str, int] = field(default_factory=lambda: {"duplicate": 0, "filtered": 0,
                                                             "late": 0})
    now: float = 0.0       # wall clock (epoch seconds)
    mono: float = 0.0      # monotonic clock, for idle timeouts
    source: str = ""


@dataclass
class RuleContext:
    """What a rule's ``build`` gets besides its parameters, for one ``transforms`` item.

    ``where`` is the item's key (``transforms[2].late``) for errors found after parsing;
    ``watermark`` is the one of the last ``late`` rule built so far (a window follows it);
    ``publish(topic, payload)`` is the runtime's event bus, or ``None``.
    """

    schema: Schema
    hints: FieldHints
    where: str = "transforms"
    publish: Publish | None = None
    clock: Callable[[], float] | None = None
    watermark: Watermark | None = None

    def sink(self, topic: str) -> Sink | None:
        """A sink publishing each payload on ``topic`` (``None`` without an event bus)."""
        publish = self.publish
        if publish is None:
            return None
        return lambda payload: publish(topic, payload)

    def require_event_time(self) -> None:
        """Refuse a rule that needs event time when the schema declares none."""
        if not self.schema.event_time:
            raise ConfigError(self.where, "needs an event time: set schema.event_time")

    def field_name(self, param: str, value: Any) -> str:
        """``value`` as a field name, or a ``ConfigError`` at ``<where>.<param>``."""
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{self.where}.{param}", f"expected a field name, got {value!r}")
        return value


@runtime_checkable
class Rule(Protocol):
    """A transformation rule object (see the module docstring)."""

    name: ClassVar[str]

    def __call__(self, records: list[dict], times: list,
                 ctx: BatchContext) -> tuple[list, list]:
        """The records (and their times) this rule lets through."""

    def stats(self) -> dict[str, Any]:
        """The rule's own counters."""


@runtime_checkable
class EndsBatch(Protocol):
    """A rule with work to do once per batch, in chain order, after every record of the batch
    (every chunk of it) has passed every rule: the late rule moves its watermark there,
    windows close there."""

    def end_batch(self, ctx: BatchContext) -> None:
        """The batch is over."""


@runtime_checkable
class Holds(Protocol):
    """A rule that holds results across batches (open windows) and releases them on time."""

    def tick(self, mono: float) -> int:
        """Release what has been idle too long at monotonic time ``mono``; how many."""

    def flush(self) -> int:
        """Release everything (end of input, shutdown); how many."""


@runtime_checkable
class Fusable(Protocol):
    """A rule that can run inside the schema validator's compiled loop (opt-in, for speed).

    ``fuse(j, access, ns)`` returns ``(setup, body, teardown)`` source lines, or ``None`` when
    this configuration of the rule cannot be fused. ``j`` is the rule's position: every name
    the code binds ends in ``_{j}`` (``seen_0``, ``RULE_0`` …) and every user value is put in
    the namespace ``ns`` under such a name, never pasted into the code. ``access`` (an
    :class:`Access`) writes the code that reads and writes a field of the record ``rec``
    and gives it as a dict: the loop holds decoded dicts, or the typed decoder's structs
    (:mod:`streamdash.pipeline.typed`), and ``fuse`` is called once for each. ``setup`` runs
    once per call before the loop; ``body`` runs per record, with ``t`` its event time, and
    may ``continue`` to drop it; ``teardown`` runs after the loop, where ``ctx`` is the
    :class:`BatchContext` and ``tmax`` the newest event time of the chunk (``-INF`` when
    none). ``setup`` and ``teardown`` must not depend on ``access``. Names available:
    ``STR INT FLOAT INF``.

    The fused code must make the same per-record decisions in the same order as
    ``__call__`` (the processor tests run both ways and compare); the validator fuses the
    longest prefix of the chain whose rules are ``Fusable`` and do not return ``None``.
    """

    def fuse(self, j: int, access: Access, ns: dict[str, Any]) -> Fused | None:
        """Generated code doing ``__call__``'s work inside the validator's loop."""


class Access(Protocol):
    """How generated code reaches the fields of the record ``rec`` (see :class:`Fusable`).

    Each method takes the field's ``name`` and ``const``, the namespace name bound to it.
    """

    #: The record as a dict, where it leaves the loop (kept aside, or handed to a sink).
    record: str

    def read(self, name: str, const: str) -> str:
        """An expression: the field's value, ``None`` when it is missing."""

    def write(self, name: str, const: str, expr: str) -> str | None:
        """A statement setting the field to ``expr`` (``None``: this access cannot)."""


class DictAccess:
    """:class:`Access` to a decoded dict: fields every valid record has (``present``) are
    read by subscript, which is cheaper, others with ``.get``."""

    record = "rec"

    def __init__(self, present: frozenset[str]):
        self.present = present

    def read(self, name: str, const: str) -> str:
        """``rec[const]`` or ``rec.get(const)``."""
        return f"rec[{const}]" if name in self.present else f"rec.get({const})"

    def write(self, name: str, const: str, expr: str) -> str:
        """``rec[const] = expr``."""
        return f"rec[{const}] = {expr}"


@runtime_checkable
class Stateful(Protocol):
    """A rule whose decisions depend on earlier batches, with that state as compact JSON.

    ``export_state()`` returns JSON-ready data (dicts with string keys, lists, strings,
    numbers, ``None``; non-finite times as ``None``, see :func:`time_out`) describing
    everything the rule carries from one batch to the next — data later batches do not
    change (copies of what they append to: it is encoded while the pipeline goes on);
    ``restore_state(state)`` replaces
    the rule's state with an exported one, so that the rule then decides every later batch
    exactly as the exporting rule would have. ``restore_state`` validates before it changes
    anything: data of the wrong shape, or saved by a differently configured rule (another
    key, another window size), raises ``ValueError`` saying what and leaves the rule as it was.
    ``state_version`` is the format's number: it changes when the format does, and state of
    another version is never handed to ``restore_state`` (the processor refuses it first).
    Both run between batches (the consumer's batch boundary), never during one.
    """

    state_version: ClassVar[int]

    def export_state(self) -> dict[str, Any]:
        """The rule's cross-batch state as JSON-ready data."""

    def restore_state(self, state: dict[str, Any]) -> None:
        """Replace the state with ``state`` (from ``export_state``); ``ValueError`` when it
        cannot be, the rule unchanged."""


def time_out(t: float) -> float | None:
    """An event time for JSON: ``None`` for "none yet" (``-inf``) or any non-finite value."""
    return t if math.isfinite(t) else None


def time_in(value: Any, what: str) -> float:
    """An event time back from JSON (``None``: ``-inf``); ``ValueError`` naming ``what``."""
    if value is None:
        return -math.inf
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what}: expected a time (seconds) or null, got {type(value).__name__}")
    return float(value)


def shape(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    """``value`` when it is of ``kind``; ``ValueError`` naming ``what`` otherwise (restore)."""
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ValueError(f"{what}: expected {getattr(kind, '__name__', 'another type')}, got "
                         f"{type(value).__name__}")
    return value


def read(name: str, const: str, present: frozenset[str]) -> str:
    """Generated read of field ``name`` (bound as ``const``): a subscript when the schema
    guarantees the field is present, else ``.get``."""
    return f"rec[{const}]" if name in present else f"rec.get({const})"


def column(records: list[dict[str, Any]], name: str) -> list[Any]:
    """The values of field ``name`` (``None`` when missing), by the fastest route: a
    subscripting comprehension, which raises only when some record lacks the field."""
    try:
        return [r[name] for r in records]
    except KeyError:
        return [r.get(name) for r in records]
