"""Sources of records and the registry that builds one from settings.

:data:`SOURCES` is found, not listed: every class defined in a module of this package that
subclasses :class:`Source` and sets its own ``kind`` is the entry of that kind, and a module
may add entries that are not classes through a ``kinds()`` function (the presets). So adding a
source kind is adding its module (and its test); see ``docs/architecture.md``, "Adding a
source". Two modules declaring one kind fail at import, naming both.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from types import MappingProxyType, ModuleType
from typing import Any, Protocol

from ..config import Settings
from ..errors import unknown_key
from ..params import Params
from ..registry import discover, own_classes
from .base import FieldHints, Source
from .http import HttpSource
from .mqtt import MqttSource
from .redis_stream import RedisStreamSource
from .replay import ReplaySource
from .simulator import SimulatedSource
from .sse import SseSource

log = logging.getLogger("streamdash.sources")


class SourceKind(Protocol):
    """A registry entry: the model of its settings and how to build the source from them."""

    Params: type[Params]

    def build(self, name: str, params: Mapping[str, Any], settings: Any) -> Source:
        """The source; bad settings raise ``ConfigError`` naming ``source.<key>``."""
        ...


def declared_kinds(module: ModuleType) -> Iterator[tuple[str, SourceKind]]:
    """The source kinds ``module`` declares: its :class:`Source` subclasses with their own
    ``kind``, then the entries of its ``kinds()`` function if it has one."""
    for cls in own_classes(module, "kind"):
        if issubclass(cls, Source) and cls is not Source:
            yield cls.kind, cls
    extra = vars(module).get("kinds")
    if callable(extra):
        yield from extra().items()


#: ``source.type`` → the kind that builds it (read-only; in module-name order).
SOURCES: Mapping[str, SourceKind] = MappingProxyType(
    discover(__name__, __path__, declared_kinds, "source kind"))


def poll_interval(configured: float, source: Source) -> float:
    """The producer's interval: the configured one, raised to the source's ``min_interval``.

    Presets declare the shortest interval their API's rate limits (or update rate) justify.
    """
    floor = float(source.min_interval or 0.0)
    if configured < floor:
        log.warning("interval %.3g s is shorter than %s allows; polling every %.3g s",
                    configured, source.name, floor)
        return floor
    return configured


def build_source(settings: Settings) -> Source:
    """Build the source described by the ``source`` settings section."""
    params = settings.section("source")
    kind = params.pop("type")
    name = params.pop("name", "") or ""
    params.pop("interval", None)
    entry = SOURCES.get(kind)
    if entry is None:
        raise unknown_key("source.type", kind, SOURCES, what=f"source '{kind}'")
    return entry.build(name, params, settings)


__all__ = ["SOURCES", "FieldHints", "HttpSource", "MqttSource", "RedisStreamSource",
           "ReplaySource", "SimulatedSource", "Source", "SourceKind", "SseSource", "build_source",
           "declared_kinds", "poll_interval"]
