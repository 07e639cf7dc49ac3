"""The processing chain interface and the minimal required-field check."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from ..models import Batch, ProcessResult, Rejection


class Processor(Protocol):
    """Turns one batch of raw records into accepted records, rejections and other outcomes."""

    def process(self, records: list[Any], batch: Batch) -> ProcessResult:
        """Process ``records`` (the batch's records); must account for every one."""


@runtime_checkable
class Tickable(Protocol):
    """A processor with work due in processing time (windows idle past their timeout): the
    consumer calls ``tick()`` whenever its queue is empty."""

    def tick(self) -> int:
        """Release what is due now; returns how many results were released."""


@runtime_checkable
class Flushable(Protocol):
    """A processor holding results across batches (open windows): the runtime calls
    ``flush()`` once at shutdown, after the consumer has drained the queue."""

    def flush(self) -> int:
        """Release everything still held (the stream is over); returns how many."""


@runtime_checkable
class Checkpointable(Protocol):
    """A processor whose state across batches (dedup keys, watermarks, open windows) can be
    saved as JSON and given to another processor of the same configuration — a worker taking
    a stream over (:class:`~streamdash.pipeline.processor.Pipeline` documents the format).
    ``changes`` grows whenever that state may have changed."""

    changes: int

    def export_state(self) -> dict[str, Any]:
        """The state, JSON-ready (call between batches)."""

    def restore_state(self, saved: dict[str, Any]) -> tuple[list[str], list[str]]:
        """Take ``saved`` before the first batch: the parts restored, and why others were not."""


def excerpt(value: Any, limit: int = 80) -> str:
    """A short, printable excerpt of an offending value (for reasons and logs)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RequiredFields:
    """Rejects records that are not JSON objects or lack a required field.

    A field present with a ``null`` value is not missing: nulls are a quality metric, not an
    invalid record.
    """

    def __init__(self, required: tuple[str, ...] = (), clock: Callable[[], float] = time.time):
        self.required = tuple(required)
        self.clock = clock

    def process(self, records: list[Any], batch: Batch) -> ProcessResult:
        accepted: list[dict[str, Any]] = []
        rejected: list[Rejection] = []
        required = self.required
        for rec in records:
            if not isinstance(rec, dict):
                reasons = [{"field": None, "rule": "object", "value": excerpt(rec)}]
            else:
                missing = [f for f in required if f not in rec]
                if not missing:
                    accepted.append(rec)
                    continue
                reasons = [{"field": f, "rule": "required", "value": None} for f in missing]
            rejected.append(Rejection(rec, reasons, batch.source, self.clock()))
        return ProcessResult(accepted, rejected)
