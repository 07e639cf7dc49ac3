"""The retry policy shared by the network sources: which failures are retried and how long to wait.

Waits are exponential with full jitter (a uniform draw between 0 and ``base·2^(n-1)``, capped
at ``cap``) so that many clients recovering together do not hammer the server in step. A
server's own hint wins: ``Retry-After`` (seconds or an HTTP date) or
``X-Rate-Limit-Retry-After-Seconds``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from .base import positive_int
from .options import number

RETRY_HEADERS = ("Retry-After", "X-Rate-Limit-Retry-After-Seconds")


def retryable_status(status: int) -> bool:
    """429 (rate limited) and every 5xx are worth retrying; other 4xx are permanent."""
    return status == 429 or 500 <= status <= 599


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the server asks us to wait, from its headers (``None`` when it gave no hint).

    ``now`` is the current epoch time, used for the HTTP-date form of ``Retry-After``.
    """
    for name in RETRY_HEADERS:
        raw = headers.get(name)
        if raw is None:
            continue
        raw = raw.strip()
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        if name == "Retry-After":
            try:
                when = parsedate_to_datetime(raw)
            except (TypeError, ValueError, IndexError):
                continue
            if when.tzinfo is not None:
                return max(0.0, when.timestamp() - now)
    return None


@dataclass
class RetryPolicy:
    """How often and how long to retry one poll (or reconnect a stream)."""

    max_tries: int = 4
    max_time: float = 30.0
    base: float = 0.5
    cap: float = 10.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay(self, attempt: int) -> float:
        """Full-jitter wait after failed attempt number ``attempt`` (1-based)."""
        return self.rng.uniform(0, min(self.cap, self.base * 2 ** max(0, attempt - 1)))

    def describe(self) -> dict[str, Any]:
        return {"max_tries": self.max_tries, "max_time": self.max_time,
                "backoff_base": self.base, "backoff_max": self.cap}


#: Settings accepted by every retrying source: key → (default, cast).
RETRY_SPEC = {
    "max_tries": (4, positive_int),
    "max_time": (30.0, number(0.0, 3600)),
    "backoff_base": (0.5, number(0.0, 600)),
    "backoff_max": (10.0, number(0.0, 3600)),
}


def policy_from(params: Mapping[str, Any]) -> RetryPolicy:
    """A policy from validated ``RETRY_SPEC`` params."""
    return RetryPolicy(max_tries=params["max_tries"], max_time=params["max_time"],
                       base=params["backoff_base"], cap=params["backoff_max"])
