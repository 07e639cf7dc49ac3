"""Processing: the chain applied to each batch, and the producer/consumer threads."""

from __future__ import annotations

from ..config import Settings
from ..sources.base import FieldHints
from .chain import Processor, RequiredFields


def build_processor(settings: Settings, hints: FieldHints) -> Processor:
    """The processing chain configured by the settings (defaults from the source's hints)."""
    required = settings.get("pipeline.required")
    return RequiredFields(tuple(hints.required if required is None else required))


__all__ = ["Processor", "RequiredFields", "build_processor"]
