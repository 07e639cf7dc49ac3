"""The Source contract and the parameter parsing every source shares.

A source only fetches: it never sleeps or schedules (the producer decides when to call it).
``fetch()`` returns the records available now (possibly none) or raises
:class:`~streamdash.errors.SourceError` once its own retries are spent. Everything else the
runtime asks of a source is declared here with a no-op default, so the runtime calls it
directly and a source overrides only what it has.

A *push* source (``push = True``: MQTT, Redis Streams) is a producer whose ``fetch()`` drains
what arrived: it waits at most its batch time for a batch to fill (``interrupt()`` ends the wait)
and the producer calls it again at once. When the far end needs to hear that records are safe
(an MQTT PUBACK, a Redis ``XACK``), ``fetch()`` returns a :class:`Delivery` carrying a token,
the batch carries it through the queue, and the consumer calls :meth:`Source.ack` with it once
the ring buffer and the quarantine took every record of the batch: a crash before that point
leaves the records unacknowledged, so the far end delivers them again (at least once).

A source kind is a class that sets its own ``kind`` in a module of :mod:`streamdash.sources`
(``SOURCES[kind]`` is found there, see :mod:`streamdash.registry`), with a
:class:`~streamdash.params.Params` model of its settings: :meth:`Source.build` validates the
``source`` section against it and :meth:`Source.from_params` constructs the source. A base
class meant only to be subclassed leaves ``kind`` unset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from ..errors import ConfigError
from ..params import Params, parse

P = TypeVar("P", bound=Params)

#: Where every source's settings live (``source.url``, ``source.batch_size`` …).
SECTION = "source"


@dataclass(frozen=True)
class FieldHints:
    """What a source's records look like, for defaults elsewhere (dashboard, schema)."""

    value_field: str = "value"
    key_field: str = ""
    time_field: str = ""
    required: tuple[str, ...] = ()
    numeric_fields: tuple[str, ...] = field(default_factory=tuple)
    #: Seconds of event time every response repeats (a snapshot feed such as USGS
    #: ``all_hour``: 3600); 0 when each response carries only new records. The default
    #: dedup TTL and allowed lateness grow to cover it.
    snapshot_span: float = 0.0


class Delivery(list):
    """The records of one ``fetch()`` of a push source, and the token that acknowledges them.

    A plain list to everything that reads records; the producer takes ``token`` and queues it
    with the (last) batch of these records, and the consumer hands it to :meth:`Source.ack`
    once that batch is stored. ``token`` is the source's own business (message ids, entry ids).
    """

    __slots__ = ("token",)

    def __init__(self, records: list[Any] = (), token: Any = None):  # type: ignore[assignment]
        super().__init__(records)
        self.token = token


class NoParams(Params):
    """The settings of a source that takes none."""


class Source:
    """Base class of every source: what the runtime calls, each with a safe default.

    Subclasses implement :meth:`fetch`, set ``kind`` and ``Params``, and override the rest
    only when they have something to say.
    """

    kind = "source"
    hints = FieldHints()
    #: The model of this kind's ``source.*`` settings (see :meth:`build`).
    Params: ClassVar[type[Params]] = NoParams
    #: The shortest poll interval (seconds) this source allows; the runtime never polls faster.
    min_interval: float = 0.0
    #: Schema rules this source knows its records follow (presets); None: infer from settings.
    schema: dict[str, Any] | None = None
    #: True for a push source: ``fetch()`` itself waits (at most its batch time) for what
    #: arrives, so the producer calls it again at once after a success instead of waiting the
    #: interval (after a failure it waits the interval as for any source).
    push: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Check a class that declares a kind when it is defined: a mistake fails at import,
        naming the class, not when a user first selects the kind."""
        super().__init_subclass__(**kwargs)
        if "kind" not in vars(cls):
            return
        where = f"{cls.__module__}.{cls.__qualname__}"
        if not isinstance(cls.kind, str) or not cls.kind.strip():
            raise TypeError(f"{where}: kind must be a non-empty string, not {cls.kind!r}")
        if not (isinstance(cls.Params, type) and issubclass(cls.Params, Params)):
            raise TypeError(f"{where}: Params must be a streamdash.params.Params model")

    def __init__(self, name: str = ""):
        self.name = name or self.kind

    @classmethod
    def build(cls, name: str, params: Mapping[str, Any], settings: Any) -> Source:
        """The source described by the ``source`` settings ``params`` (``type``/``name`` removed).

        Bad or unknown settings raise ``ConfigError`` naming ``source.<key>``.
        """
        return cls.from_params(name, parse_source(cls.Params, params), settings)

    @classmethod
    def from_params(cls, name: str, params: Any, settings: Any) -> Source:
        """Construct from validated ``params``; the default passes every field as a keyword."""
        return cls(name, **dict(params))

    def fetch(self) -> list[dict[str, Any]]:  # pragma: no cover - abstract
        """Records available now; raise ``SourceError`` on failure."""
        raise NotImplementedError

    def ack(self, token: Any) -> None:
        """Acknowledge to the far end the records of the batch that carried ``token`` (from a
        :class:`Delivery`). Called once per token: by the consumer thread after the ring buffer
        and the quarantine took every record of the batch, or by the producer thread when the
        fetch held no record to store (every message refused) or the ``drop_oldest`` queue
        policy discarded the batch (counted as dropped: the policy chose to lose it). Never
        for a batch still queued or dropped at shutdown: the far end delivers those again.
        Must not block for long (queue the acknowledgement when it needs the network).
        Default: nothing to acknowledge."""

    def bind_events(self, bus: Any) -> None:
        """Publish this source's own events (ingestion errors) on ``bus``; default: none."""

    def interrupt(self) -> None:
        """End a retry wait or a request in flight now (the runtime is stopping); default:
        nothing to end. ``close()`` follows once the producer has stopped."""

    def close(self) -> None:
        """Release connections or files; the default has nothing to release."""

    def interval_hint(self) -> float:
        """Seconds between polls the far end asks for now (0: no request); see ``cadence``."""
        return 0.0

    def describe(self) -> dict[str, Any]:
        """A description safe to show anywhere (never secrets)."""
        return {"name": self.name, "kind": self.kind}


def parse_source(model: type[P], params: Mapping[str, Any] | None, key: str = SECTION) -> P:
    """``params`` validated as ``model``; errors name ``source.<key>``.

    Validators of nested values (field maps, header maps) raise ``ConfigError`` at their key
    relative to the section (``fields.a.type``): it is rooted at ``key`` here.
    """
    try:
        return parse(model, params, key, what="setting for this source")
    except ConfigError as exc:
        if exc.key == key or exc.key.startswith(key + "."):
            raise
        raise ConfigError(f"{key}.{exc.key}", exc.problem) from None
