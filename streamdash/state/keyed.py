"""A stream's keyed state in Redis: the pipeline's dedup keys, watermarks and open windows.

A worker's pipeline decides each batch from what earlier batches left behind (the keys it has
seen, how far event time has got, the windows still open). :class:`KeyedState` saves that
state (``Pipeline.export_state``, see :class:`~streamdash.pipeline.chain.Checkpointable`) with
every write of the stream's state, and a worker taking the stream over restores it before its
pipeline starts, so the takeover neither counts a duplicate twice nor forgets an open window.

**Consistency.** :meth:`KeyedState.capture` runs at the consumer's batch boundary
(``Consumer.at_boundary``) together with the publisher's reads of the stores and the counters
(the export copies what later batches change; :meth:`KeyedState.encode` then runs while the
pipeline goes on), and the publisher writes all of it in one MULTI/EXEC: the counters and the
keyed state in Redis always describe the same batches. Records a worker processed after its
last write are in neither, so when a source delivers them again the new worker accepts them
once.

**Bounds.** The JSON may hold at most ``state.max_keyed_bytes``; a larger (or unencodable)
state is refused: counted (``state_keyed_refused``), logged once while it lasts, and a small
``{"v": 1, "refused": why}`` is written in its place — never an older state, which would no
longer agree with the counters — so a takeover then starts with empty keyed state and says
why. An unchanged state (no batch since the last write) is not written again.

**Restoring** is defensive, as for anything read from Redis: a value that is too large, not
JSON, of another format version or refused, and each rule's part that does not fit this
pipeline (another version, another key or window size, a bad shape), is counted
(``state_keyed_rejected``) and logged, and that part starts empty; nothing in it can crash the
worker or run code (JSON only, orjson).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from ..logs import log_event
from ..metrics import Metrics
from ..pipeline.chain import Checkpointable
from .layout import decode, text

log = logging.getLogger("streamdash.state")

#: The format of the ``keyed`` value (the pipeline's and each rule's parts have their own).
FORMAT = 1
#: Reasons shown in one log line when a restore refuses parts (the rest are counted).
SHOWN = 5


class KeyedState:
    """Saves and restores one pipeline's keyed state (see the module docstring).

    ``processor`` is the runtime's; one that is not
    :class:`~streamdash.pipeline.chain.Checkpointable` (a custom processor) has none, and
    nothing is written for it.
    """

    def __init__(self, processor: Any, metrics: Metrics, max_bytes: int, stream: str):
        self.processor = processor if isinstance(processor, Checkpointable) else None
        self.metrics = metrics
        self.max_bytes = max_bytes
        self.stream = stream
        #: ``processor.changes`` of the state the store holds (``None``: write it again).
        self.written: int | None = None
        self.refusing: str | None = None

    # -- saving --------------------------------------------------------------------------------
    def capture(self) -> tuple[dict[str, Any], int] | None:
        """At the batch boundary (quick: no encoding): the state to write now and the change
        count it is of, or ``None`` when the store already holds it (or there is none)."""
        if self.processor is None:
            return None
        changes = self.processor.changes
        if changes == self.written:
            return None
        return self.processor.export_state(), changes

    def encode(self, captured: tuple[dict[str, Any], int]) -> tuple[bytes, int]:
        """The JSON to write for a :meth:`capture` (the refusal marker when it is too large
        or not encodable), and its change count."""
        state, changes = captured
        try:
            # No ``default=``: a value JSON cannot hold must fail here, not come back changed.
            data = orjson.dumps({"v": FORMAT, "pipeline": state})
        except (TypeError, ValueError, OverflowError) as exc:
            return self._refuse(changes, f"not encodable as JSON: {exc}")
        if len(data) > self.max_bytes:
            return self._refuse(changes, f"{len(data)} bytes, over state.max_keyed_bytes "
                                         f"({self.max_bytes})")
        if self.refusing is not None:
            log_event(log, logging.INFO, "keyed state saved again", stream=self.stream,
                      bytes=len(data))
            self.refusing = None
        self.metrics.set_gauge("state_keyed_bytes", len(data))
        return data, changes

    def _refuse(self, changes: int, why: str) -> tuple[bytes, int]:
        self.metrics.inc("state_keyed_refused")
        if self.refusing is None:  # once while it lasts: the counter counts every refusal
            log_event(log, logging.WARNING, "keyed state not saved: a worker taking this "
                      "stream over would start without dedup keys, watermark and open windows",
                      stream=self.stream, reason=why)
        self.refusing = why
        return orjson.dumps({"v": FORMAT, "refused": why}), changes

    def saved(self, changes: int) -> None:
        """The store took the state of change count ``changes``."""
        self.written = changes

    def forget(self) -> None:
        """The store may not hold it (a new epoch, a failed write): write it next time."""
        self.written = None

    # -- restoring -----------------------------------------------------------------------------
    def restore(self, raw: Any) -> list[str]:
        """Give the pipeline the state ``raw`` (the ``keyed`` value, ``None`` when there is
        none) before its first batch; the places restored. What could not be is counted and
        logged, and starts empty."""
        if self.processor is None or raw is None:
            return []
        try:
            saved = decode(raw, self.max_bytes, bound="state.max_keyed_bytes")
            if saved.get("v") != FORMAT:
                raise ValueError(f"format version {text(saved.get('v'))!r}, this worker reads "
                                 f"{FORMAT}")
            if "refused" in saved:
                raise ValueError(f"the last writer could not save it ({text(saved['refused'])})")
            pipeline = saved.get("pipeline")
            if not isinstance(pipeline, dict):
                raise ValueError("no pipeline state in it")
        except ValueError as exc:
            self._rejected([str(exc)])
            return []
        restored, refused = self.processor.restore_state(pipeline)
        if refused:
            self._rejected(refused)
        if restored:
            log_event(log, logging.INFO, "restored the stream's keyed state", stream=self.stream,
                      rules=",".join(restored), bytes=len(raw))
        return restored

    def _rejected(self, reasons: list[str]) -> None:
        self.metrics.inc("state_keyed_rejected", len(reasons))
        log_event(log, logging.WARNING, "saved keyed state not used: starting without it "
                  "where it was refused", stream=self.stream,
                  reasons="; ".join(text(r) for r in reasons[:SHOWN]),
                  more=max(0, len(reasons) - SHOWN))
