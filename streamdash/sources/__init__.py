"""Sources of records and the registry that builds one from settings.

To add a source kind, register a builder ``(name, params, settings) -> Source`` in
:data:`BUILDERS`; the builder validates its own ``params`` with :func:`base.take_params`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ..config import Settings
from ..errors import ConfigError, unknown_key
from . import presets
from .base import FieldHints, Source, positive_int, rate, take_params
from .http import HttpSource, build_http
from .replay import ReplaySource, build_replay
from .simulator import DEFAULT_RATES, SimulatedSource
from .sse import SseSource, build_sse

log = logging.getLogger("streamdash.sources")

Builder = Callable[[str, dict[str, Any], Settings], Source]


def _int(key: str, value: Any) -> int:
    return positive_int(key, value)


def _seed(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"expected an integer seed, got {value!r}")
    return value


def build_simulator(name: str, params: dict[str, Any], settings: Settings) -> Source:
    """The simulated sensor source (``source.type: simulated``)."""
    spec = {"seed": (42, _seed), "sensors": (5, _int), "batch_size": (20, _int),
            "count": (None, _int), **{k: (v, rate) for k, v in DEFAULT_RATES.items()}}
    p = take_params("source", params, spec)
    return SimulatedSource(name, spread=settings.interval, clock=time.time, **p)


BUILDERS: dict[str, Builder] = {"simulated": build_simulator, "http": build_http,
                                "sse": build_sse, "replay": build_replay,
                                **presets.builders()}


def poll_interval(configured: float, source: Source) -> float:
    """The producer's interval: the configured one, raised to the source's ``min_interval``.

    Presets declare the shortest interval their API's rate limits (or update rate) justify.
    """
    floor = float(getattr(source, "min_interval", 0.0) or 0.0)
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
    builder = BUILDERS.get(kind)
    if builder is None:
        raise unknown_key("source.type", kind, BUILDERS, what=f"source '{kind}'")
    return builder(name, params, settings)


__all__ = ["BUILDERS", "FieldHints", "HttpSource", "ReplaySource", "SimulatedSource", "Source",
           "SseSource", "build_source", "poll_interval"]
