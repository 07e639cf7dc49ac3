"""What the producer knows of its source, for health and freshness reports."""

from __future__ import annotations

import threading
from typing import Any


class SourceHealth:
    """What the producer knows of its source: last success, consecutive failures, last error,
    and since when it has been waiting for room in a full queue (``waiting_since``, ``None``
    when not waiting): while it waits it does not fetch, which says nothing about the source."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.last_success: float | None = None
        self.last_attempt: float | None = None
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.consecutive_failures = 0
        self.failures = 0
        self.waiting_since: float | None = None

    def success(self, at: float) -> None:
        with self._lock:
            self.last_success = self.last_attempt = at
            self.consecutive_failures = 0

    def failure(self, at: float, error: str) -> None:
        with self._lock:
            self.last_attempt = self.last_error_at = at
            self.last_error = error
            self.consecutive_failures += 1
            self.failures += 1

    def waiting(self, at: float | None) -> None:
        """The producer starts (a wall time) or stops (``None``) waiting for queue room."""
        with self._lock:
            self.waiting_since = at

    def snapshot(self) -> dict[str, Any]:
        """A copy of every field."""
        with self._lock:
            return {"last_success": self.last_success, "last_attempt": self.last_attempt,
                    "last_error": self.last_error, "last_error_at": self.last_error_at,
                    "consecutive_failures": self.consecutive_failures, "failures": self.failures,
                    "waiting_since": self.waiting_since}
