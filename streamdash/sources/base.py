"""The Source protocol and helpers shared by every source.

A source only fetches: it never sleeps or schedules (the producer decides when to call it).
``fetch()`` returns the records available now (possibly none) or raises
:class:`~streamdash.errors.SourceError` once its own retries are spent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, unknown_key


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


class Source:
    """Base class of every source: a name, a kind, ``fetch()``, ``close()`` and a description."""

    kind = "source"
    hints = FieldHints()

    def __init__(self, name: str = ""):
        self.name = name or self.kind

    def fetch(self) -> list[dict[str, Any]]:  # pragma: no cover - abstract
        """Records available now; raise ``SourceError`` on failure."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections or files; the default has nothing to release."""

    def interval_hint(self) -> float:
        """Seconds between polls the far end asks for now (0: no request); see ``cadence``."""
        return 0.0

    def describe(self) -> dict[str, Any]:
        """A description safe to show anywhere (never secrets)."""
        return {"name": self.name, "kind": self.kind}


def take_params(section: str, params: Mapping[str, Any],
                spec: Mapping[str, tuple[Any, Callable[[str, Any], Any]]]) -> dict[str, Any]:
    """Validate a source's own settings against ``spec`` (``key → (default, cast)``).

    Unknown keys and bad values raise ``ConfigError`` naming ``section.key``.
    """
    unknown = sorted(set(params) - set(spec))
    if unknown:
        raise unknown_key(f"{section}.{unknown[0]}", unknown[0], spec,
                          what="setting for this source")
    out = {}
    for key, (default, cast) in spec.items():
        value = params.get(key, default)
        out[key] = cast(f"{section}.{key}", value) if value is not None else None
    return out


def rate(key: str, value: Any) -> float:
    """Cast a probability (0–1)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ConfigError(key, f"expected a rate between 0 and 1, got {value!r}") from None
    if isinstance(value, bool) or not 0 <= out <= 1:
        raise ConfigError(key, f"expected a rate between 0 and 1, got {value!r}")
    return out


def positive_int(key: str, value: Any) -> int:
    """Cast a whole number ≥ 1."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(key, f"expected a whole number ≥ 1, got {value!r}")
    try:
        out = int(value)
    except ValueError:
        raise ConfigError(key, f"expected a whole number ≥ 1, got {value!r}") from None
    if out < 1:
        raise ConfigError(key, f"expected a whole number ≥ 1, got {value!r}")
    return out
