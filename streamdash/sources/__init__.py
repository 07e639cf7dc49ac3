"""Sources of records and the registry that builds one from settings.

To add a source kind, register its class in :data:`SOURCES`: a :class:`Source` subclass with a
``Params`` model of its settings (see ``docs/architecture.md``, "Adding a source").
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from ..config import Settings
from ..errors import unknown_key
from ..params import Params
from . import presets
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


#: ``source.type`` → the kind that builds it.
SOURCES: dict[str, SourceKind] = {"simulated": SimulatedSource, "http": HttpSource,
                                  "sse": SseSource, "replay": ReplaySource,
                                  "mqtt": MqttSource, "redis-stream": RedisStreamSource,
                                  **presets.kinds()}


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
           "poll_interval"]
