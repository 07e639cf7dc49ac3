"""Processing: schema validation, the transformation rules, windows, and the worker threads.

:func:`build_processor` reads the ``schema`` and ``transforms`` settings sections (see
``docs/pipeline.md``); without a schema one is derived from the source's :class:`FieldHints`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from ..config import Settings
from ..sources.base import FieldHints
from .chain import Checkpointable, Flushable, Processor, RequiredFields, Tickable
from .processor import Pipeline, build_rules, default_transforms
from .schema import Schema, default_schema, schema_from_settings
from .validator import Validator


def build_processor(settings: Settings, hints: FieldHints, *,
                    source_schema: dict[str, Any] | None = None,
                    publish: Callable[[str, Any], None] | None = None,
                    clock: Callable[[], float] = time.time,
                    monotonic: Callable[[], float] = time.monotonic,
                    fuse: bool = True, typed: bool = True) -> Pipeline:
    """The processing chain configured by the settings (defaults from the source's hints).

    The schema is the ``schema`` setting, else the source's own (``source_schema``: a preset
    describes its records in the same form), else one derived from ``hints``.
    ``publish(topic, payload)`` receives closed windows and late records (the runtime passes
    its event bus's ``publish``). ``fuse`` and ``typed`` (both on by default) are for tests
    and measurements: see :class:`Pipeline`.
    """
    raw_schema = settings.get("schema") or source_schema
    if raw_schema:
        schema = schema_from_settings(raw_schema)
    else:
        required = settings.get("pipeline.required")
        if required is not None:
            hints = dataclasses.replace(hints, required=tuple(required))
        schema = default_schema(hints)
    items = settings.get("transforms")
    if items is None:
        items = default_transforms(schema, hints)
    rules = build_rules(items, schema, hints, publish=publish, clock=clock)
    return Pipeline(schema, rules, clock=clock, monotonic=monotonic, fuse=fuse, typed=typed)


__all__ = ["Checkpointable", "Flushable", "Pipeline", "Processor", "RequiredFields", "Schema",
           "Tickable", "Validator", "build_processor", "default_schema", "schema_from_settings"]
