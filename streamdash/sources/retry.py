"""The one retry helper: which failures are retried, how long to wait, and the waiting itself.

Used by the ``http`` source (each poll), the ``sse`` reader (each reconnect) and the webhook
notifier (each POST). The schedule is ``backoff``'s exponential generator (``base·2^(n-1)``,
capped at ``cap``) with full jitter (a uniform draw between 0 and that value), so that many
clients recovering together do not hammer the server in step. A server's own hint is a floor:
``Retry-After`` (seconds or an HTTP date), ``X-Rate-Limit-Retry-After-Seconds`` or an SSE
``retry:`` field. The wait is ``stop.wait(delay)`` on the caller's ``threading.Event``, so a
stop (``interrupt()``) ends it at once; ``backoff``'s own decorator sleeps with
``time.sleep``, which nothing can interrupt, so it only supplies the schedule here.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Annotated, Any, TypeVar

import backoff
from pydantic import Field

from ..params import Duration, Float, Int, Params

T = TypeVar("T")

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
    """How often and how long to retry one operation (0 for ``max_tries``/``max_time``: no
    limit), and the backoff schedule between attempts."""

    max_tries: int = 4
    max_time: float = 30.0
    base: float = 0.5
    cap: float = 10.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def waits(self) -> Iterator[float]:
        """The jittered waits after attempt 1, 2, … (``backoff.expo``, capped at ``cap``)."""
        ceilings = backoff.expo(base=2, factor=self.base, max_value=self.cap)
        next(ceilings)  # backoff's generators are primed with a first None (they take send())
        for ceiling in ceilings:
            yield self.rng.uniform(0, ceiling)

    def describe(self) -> dict[str, Any]:
        """The policy as its settings name it."""
        return {"max_tries": self.max_tries, "max_time": self.max_time,
                "backoff_base": self.base, "backoff_max": self.cap}


class RetryParams(Params):
    """The retry settings of a polling source (``source.max_tries`` …)."""

    max_tries: Annotated[Int, Field(ge=1, le=1000)] = 4
    max_time: Annotated[Duration, Field(ge=0.0, le=3600)] = 30.0
    backoff_base: Annotated[Float, Field(ge=0.0, le=600)] = 0.5
    backoff_max: Annotated[Float, Field(ge=0.0, le=3600)] = 10.0

    def policy(self) -> RetryPolicy:
        """The policy these settings describe."""
        return RetryPolicy(max_tries=self.max_tries, max_time=self.max_time,
                           base=self.backoff_base, cap=self.backoff_max)


def _no_hint(exc: BaseException) -> float | None:
    return None


def call_with_retries(attempt: Callable[[], T], policy: RetryPolicy, stop: threading.Event, *,
                      retryable: Callable[[BaseException], bool],
                      exceptions: type[BaseException] | tuple[type[BaseException], ...]
                      = Exception,
                      server_wait: Callable[[BaseException], float | None] = _no_hint,
                      on_retry: Callable[[BaseException, int, float], None] | None = None,
                      on_giveup: Callable[[BaseException, int, str], None] | None = None,
                      monotonic: Callable[[], float] = time.monotonic) -> T:
    """``attempt()``'s result, retrying failures that ``retryable`` accepts.

    Between attempts it waits the policy's next jittered delay, at least ``server_wait(exc)``,
    at most the time left of ``policy.max_time``, on ``stop.wait`` (a stop ends the wait and
    the call re-raises the last failure). ``on_retry(exc, tries, delay)`` is called before each
    wait; ``on_giveup(exc, tries, why)`` before the last failure is re-raised, ``why`` being
    ``permanent``, ``max_tries``, ``max_time``, ``server_wait`` (the server asked for longer
    than the time left) or ``stopped``.
    """
    started = monotonic()
    waits = policy.waits()
    tries = 0
    while True:
        tries += 1
        try:
            return attempt()
        except exceptions as exc:
            left = policy.max_time - (monotonic() - started) if policy.max_time else math.inf
            hint = server_wait(exc)
            why = ("stopped" if stop.is_set() else "permanent" if not retryable(exc)
                   else "max_tries" if policy.max_tries and tries >= policy.max_tries
                   else "max_time" if left <= 0
                   else "server_wait" if hint is not None and hint > left else "")
            if not why:
                delay = min(max(next(waits), hint or 0.0), left)
                if on_retry is not None:
                    on_retry(exc, tries, delay)
                if not stop.wait(delay):
                    continue
                why = "stopped"
            if on_giveup is not None:
                on_giveup(exc, tries, why)
            raise
