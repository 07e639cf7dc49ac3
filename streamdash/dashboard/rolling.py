"""Running numeric values of one field over the records a stream's buffer holds."""

from __future__ import annotations

import itertools
from collections import deque

from ..state import RecordLog
from .values import is_number


class RollingValues:
    """Numeric values of one field over the records the buffer holds, kept in step by seq.

    ``sync()`` reads only records newer than the last one seen and drops those the buffer has
    overwritten, so mean/latest/recent cost O(new records), not O(buffer).
    """

    def __init__(self, field: str, capacity: int):
        self.field = field
        self.capacity = capacity
        self.seq = 0
        self.latest: float | None = None
        self._values: deque[tuple[int, float]] = deque()
        self._sum = 0.0

    def sync(self, buffer: RecordLog) -> None:
        """Catch up with ``buffer`` (rebuilding when it went backwards, e.g. a new buffer)."""
        if buffer.last_seq < self.seq:
            self.__init__(self.field, self.capacity)  # type: ignore[misc]
        for seq, rec in buffer.after(self.seq):
            v = rec.get(self.field)
            if is_number(v):
                self._values.append((seq, float(v)))
                self._sum += v
                self.latest = float(v)
            self.seq = seq
        oldest_held = buffer.last_seq - self.capacity
        while self._values and self._values[0][0] <= oldest_held:
            self._sum -= self._values.popleft()[1]

    @property
    def mean(self) -> float | None:
        """Mean of the numeric values the buffer holds (``None`` when there are none)."""
        return self._sum / len(self._values) if self._values else None

    def recent(self, n: int) -> list[float]:
        """The newest ``n`` values, oldest first."""
        out = [v for _, v in itertools.islice(reversed(self._values), n)]
        out.reverse()
        return out
