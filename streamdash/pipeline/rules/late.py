"""The ``late`` rule: sets aside records older than the event-time watermark."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field

from ...errors import ConfigError
from ...models import utc_iso
from ...params import Duration
from ...params import Params as BaseParams
from .base import Access, BatchContext, Fused, RuleContext, Sink, time_in, time_out
from .watermark import Watermark

#: When the late rule's watermark moves: after each batch (default) or after each record.
ADVANCE = ("batch", "record")
#: Default ``lateness`` (seconds of event time); a snapshot source's span when longer.
LATENESS = 30.0


class Late:
    """Sets aside records whose event time is older than the watermark (strictly).

    With ``advance="batch"`` (the default, as Flink's periodic watermarks) every record of a
    batch is judged against the watermark known *before* the batch: the newest event time of
    earlier batches minus the allowed lateness; the watermark then moves to the batch's newest
    time in :meth:`end_batch`. The order of records inside one batch (one HTTP response, one
    file chunk) therefore never changes the outcome: a snapshot feed that lists its newest
    record first loses nothing. ``advance="record"`` moves the watermark after every record
    (the newest event time seen so far, this record included), which is what the benchmark
    contract specifies; there the order inside a batch matters.

    Late records are counted (``late`` outcome) and handed to ``sink`` as
    ``{at, record, event_time, watermark, lateness_s, source}`` dicts (``at``: when the batch
    was processed; the runtime's bounded late store, ``/api/late``, the dashboard),
    never dropped silently and never fed to later rules.

    Its state (:class:`~.base.Stateful`) is its watermark's progress, ``{max_time}`` (the
    windows after it follow that watermark: they do not save it again).
    """

    name = "late"
    state_version = 1

    class Params(BaseParams):
        """``lateness`` (default 30 s, or a snapshot source's span) and ``advance``."""

        lateness: Duration = Field(None, ge=0)  # None: 30 s or the source's span
        advance: Literal["batch", "record"] = "batch"

    @classmethod
    def build(cls, params: Late.Params, context: RuleContext) -> Late:
        """A late rule with its own watermark, which the windows after it follow (it becomes
        ``context.watermark``)."""
        context.require_event_time()
        # A snapshot feed lists everything of its span, however late it was published.
        lateness = params.lateness if params.lateness is not None else \
            max(LATENESS, context.hints.snapshot_span)
        context.watermark = Watermark(lateness)
        return cls(context.watermark, context.sink("late"), params.advance)

    def __init__(self, watermark: Watermark, sink: Sink | None = None, advance: str = "batch"):
        if advance not in ADVANCE:
            raise ConfigError("late.advance", f"must be one of {', '.join(ADVANCE)}, "
                                              f"got {advance!r}")
        self.watermark = watermark
        self.sink = sink
        self.advance = advance
        self.late = 0

    def __call__(self, records: list[dict], times: list, ctx: BatchContext) -> tuple[list, list]:
        if not times:
            return records, times
        if self.advance == "record":
            return self._per_record(records, times, ctx)
        wm = self.watermark
        cut = wm.value
        newest = max(times)
        if min(times) >= cut:  # min/max run in C: most batches have no late record
            if newest > wm.pending:
                wm.pending = newest
            return records, times
        keep_r: list[dict] = []
        keep_t: list = []
        side: list[tuple[dict, float, float]] = []
        mx = wm.pending
        for rec, t in zip(records, times, strict=True):
            if t < cut:
                side.append((rec, t, cut))
                continue
            if t > mx:
                mx = t
            keep_r.append(rec)
            keep_t.append(t)
        wm.pending = mx
        self.finish(side, ctx)
        return keep_r, keep_t

    def _per_record(self, records: list[dict], times: list,
                    ctx: BatchContext) -> tuple[list, list]:
        wm = self.watermark
        lateness = wm.lateness
        mx = wm.max_time
        cut = mx - lateness
        late = 0
        for t in times:  # first pass on floats only: most batches have no late record
            if t > mx:
                mx = t
                cut = mx - lateness
            elif t < cut:
                late += 1
        if not late:
            wm.max_time = mx
            return records, times
        keep_r: list[dict] = []
        keep_t: list = []
        side: list[tuple[dict, float, float]] = []
        mx = wm.max_time
        cut = mx - lateness
        for rec, t in zip(records, times, strict=True):
            if t > mx:
                mx = t
                cut = mx - lateness
            elif t < cut:
                side.append((rec, t, cut))
                continue
            keep_r.append(rec)
            keep_t.append(t)
        wm.max_time = mx
        self.finish(side, ctx)
        return keep_r, keep_t

    def finish(self, side: list[tuple[dict, float, float]], ctx: BatchContext) -> None:
        """Count the batch's late records and hand them to the sink."""
        if not side:
            return
        ctx.counts["late"] += len(side)
        self.late += len(side)
        if self.sink is not None:
            at = utc_iso(ctx.now)
            self.sink([{"at": at, "record": rec, "event_time": utc_iso(t), "watermark": utc_iso(w),
                        "lateness_s": round(w - t, 3), "source": ctx.source}
                       for rec, t, w in side])

    def end_batch(self, ctx: BatchContext) -> None:
        """After the whole batch (every chunk of it): move the watermark (batch mode)."""
        if self.advance == "batch":
            self.watermark.commit()

    def fuse(self, j: int, access: Access, ns: dict[str, Any]) -> Fused:
        """Generated code doing :meth:`__call__`'s work inside the validator's loop."""
        ns[f"RULE_{j}"] = self
        if self.advance == "batch":
            # The cut is read once per call; the watermark itself moves only in end_batch,
            # so the chunks of one batch all see the same cut.
            setup = [f"wm_{j} = RULE_{j}.watermark; cut_{j} = wm_{j}.value",
                     f"mx_{j} = wm_{j}.pending; side_{j} = []"]
            body = [f"if t < cut_{j}:",
                    f"    side_{j}.append(({access.record}, t, cut_{j}))",
                    "    continue",
                    f"if t > mx_{j}:",
                    f"    mx_{j} = t"]
            teardown = [f"wm_{j}.pending = mx_{j}", f"RULE_{j}.finish(side_{j}, ctx)"]
            return setup, body, teardown
        setup = [f"wm_{j} = RULE_{j}.watermark; lat_{j} = wm_{j}.lateness",
                 f"mx_{j} = wm_{j}.max_time; cut_{j} = mx_{j} - lat_{j}; side_{j} = []"]
        body = [f"if t > mx_{j}:",
                f"    mx_{j} = t; cut_{j} = mx_{j} - lat_{j}",
                f"elif t < cut_{j}:",
                f"    side_{j}.append(({access.record}, t, cut_{j}))",
                "    continue"]
        teardown = [f"wm_{j}.max_time = mx_{j}", f"RULE_{j}.finish(side_{j}, ctx)"]
        return setup, body, teardown

    def export_state(self) -> dict[str, Any]:
        """The newest event time of the batches judged so far (``None``: none yet)."""
        return {"max_time": time_out(self.watermark.max_time)}

    def restore_state(self, state: dict[str, Any]) -> None:
        """Go on from a saved watermark (``ValueError`` when it is not a time)."""
        max_time = time_in(state.get("max_time"), "late.max_time")
        self.watermark.max_time = max_time
        self.watermark.pending = -math.inf

    def stats(self) -> dict[str, Any]:
        """Late records and the current watermark (ISO)."""
        wm = self.watermark.value
        return {"late": self.late, "watermark": utc_iso(wm) if math.isfinite(wm) else None}
