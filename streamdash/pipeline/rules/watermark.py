"""Event-time progress shared by the late rule and the windows."""

from __future__ import annotations

import math


class Watermark:
    """Event-time progress: the newest event time seen, minus the allowed lateness.

    Shared by the late rule (which advances it) and the window rule (which closes windows the
    watermark has passed), so both agree on what is late. ``pending`` is the newest event time
    of the batch being processed: a late rule that judges by batch (the default) notes times
    there and :meth:`commit` moves them into ``max_time`` when the batch ends, so every record
    of one batch is judged against the same watermark.
    """

    def __init__(self, lateness: float = 30.0):
        self.lateness = lateness
        self.max_time = -math.inf
        self.pending = -math.inf

    @property
    def value(self) -> float:
        """Times strictly before this are late."""
        return self.max_time - self.lateness

    def advance(self, t: float) -> None:
        """Note an event time (the watermark never goes back)."""
        if t > self.max_time:
            self.max_time = t

    def commit(self) -> None:
        """End of a batch: the watermark moves to the batch's newest event time (if newer)."""
        if self.pending > self.max_time:
            self.max_time = self.pending
        self.pending = -math.inf
