"""The retry policy: which statuses retry, server wait hints, full-jitter delays."""

from __future__ import annotations

import random
import threading

import pytest

from streamdash.errors import ConfigError
from streamdash.sources.base import parse_source
from streamdash.sources.retry import (
    RetryParams,
    RetryPolicy,
    call_with_retries,
    retry_after,
    retryable_status,
)
from tests.helpers import within

NOW = 1_764_198_000.0  # Wed, 26 Nov 2025 23:00:00 GMT


def test_retryable_statuses():
    """429 and 5xx are retried; every other 4xx is permanent."""
    assert all(retryable_status(s) for s in (429, 500, 502, 503, 504, 599))
    assert not any(retryable_status(s) for s in (400, 401, 403, 404, 408, 410, 422))


@pytest.mark.parametrize("headers, expected", [
    ({"Retry-After": "7"}, 7.0),
    ({"Retry-After": " 0 "}, 0.0),
    ({"Retry-After": "Wed, 26 Nov 2025 23:00:30 GMT"}, 30.0),
    ({"Retry-After": "Wed, 26 Nov 2025 22:00:00 GMT"}, 0.0),
    ({"X-Rate-Limit-Retry-After-Seconds": "2.5"}, 2.5),
    ({"Retry-After": "soon"}, None),
    ({}, None),
])
def test_retry_after_parses_seconds_and_http_dates(headers, expected):
    """Retry-After in seconds or as an HTTP date, and the rate-limit header, give the wait."""
    assert retry_after(headers, NOW) == expected


def test_full_jitter_delays_stay_within_the_exponential_cap():
    """The wait after attempt n (what call_with_retries uses) is drawn from
    [0, min(cap, base·2^(n-1))]."""
    policy = RetryPolicy(base=0.5, cap=3.0, rng=random.Random(1))
    ceilings = (0.5, 1.0, 2.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0)
    schedules = [list(zip(ceilings, policy.waits(), strict=False)) for _ in range(200)]
    for n, ceiling in enumerate(ceilings):
        draws = [schedule[n][1] for schedule in schedules]
        assert all(0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling * 0.8  # jitter spans the range


def test_retry_settings_validate_and_build_a_policy():
    """Retry settings are cast and checked; a bad one names its key."""
    policy = parse_source(RetryParams, {"max_tries": "3", "backoff_base": 0.1}).policy()
    assert (policy.max_tries, policy.base, policy.max_time) == (3, 0.1, 30.0)
    with pytest.raises(ConfigError) as err:
        parse_source(RetryParams, {"backoff_max": -1})
    assert err.value.key == "source.backoff_max"
    with pytest.raises(ConfigError, match="must be between 1 and 1000") as err:
        parse_source(RetryParams, {"max_tries": 10**9})  # a poll must end
    assert err.value.key == "source.max_tries"


class Flaky:
    """Fails ``times`` times with ``exc``, then returns ``"ok"``."""

    def __init__(self, times, exc):
        self.times, self.exc, self.calls = times, exc, 0

    def __call__(self):
        self.calls += 1
        if self.calls <= self.times:
            raise self.exc
        return "ok"


def test_retries_until_success_waiting_the_jittered_schedule():
    """Retryable failures are retried; each wait is a full-jitter draw of the backoff schedule."""
    waits = []
    policy = RetryPolicy(max_tries=5, max_time=0, base=0.001, cap=0.004, rng=random.Random(3))
    attempt = Flaky(3, OSError("down"))
    result = call_with_retries(attempt, policy, threading.Event(), retryable=lambda e: True,
                               on_retry=lambda e, n, d: waits.append((n, d)))
    assert result == "ok" and attempt.calls == 4
    assert [n for n, _ in waits] == [1, 2, 3]
    assert all(0 <= d <= c for (_, d), c in zip(waits, (0.001, 0.002, 0.004), strict=True))


@pytest.mark.parametrize("policy, retryable, why, calls", [
    (RetryPolicy(max_tries=2, max_time=0, base=0.001), True, "max_tries", 2),
    (RetryPolicy(max_tries=5, max_time=0, base=0.001), False, "permanent", 1),
])
def test_gives_up_with_the_last_failure_and_says_why(policy, retryable, why, calls):
    """A permanent failure or the last allowed try re-raises the failure and names the reason."""
    gave_up = []
    attempt = Flaky(10, OSError("down"))
    with pytest.raises(OSError, match="down"):
        call_with_retries(attempt, policy, threading.Event(), retryable=lambda e: retryable,
                          on_giveup=lambda e, n, w: gave_up.append((n, w)))
    assert attempt.calls == calls and gave_up == [(calls, why)]


def test_server_wait_is_a_floor_and_too_long_a_wait_gives_up():
    """A server's wait raises the delay; one longer than the time left ends the retries."""
    waits, gave_up = [], []
    policy = RetryPolicy(max_tries=3, max_time=60, base=0.0, cap=0.0)
    call_with_retries(Flaky(1, OSError("busy")), policy, threading.Event(),
                      retryable=lambda e: True, server_wait=lambda e: 0.01,
                      on_retry=lambda e, n, d: waits.append(d))
    assert waits == [0.01]
    with pytest.raises(OSError):
        call_with_retries(Flaky(1, OSError("busy")), policy, threading.Event(),
                          retryable=lambda e: True, server_wait=lambda e: 3600.0,
                          on_giveup=lambda e, n, w: gave_up.append(w))
    assert gave_up == ["server_wait"]


def test_a_stop_ends_the_wait_at_once():
    """Setting the stop event ends a long wait now and re-raises the failure."""
    stop = threading.Event()
    policy = RetryPolicy(max_tries=0, max_time=0, base=3600.0, cap=3600.0)
    waiting, done = threading.Event(), threading.Event()
    gave_up = []

    def run():
        with pytest.raises(OSError):
            call_with_retries(Flaky(10, OSError("down")), policy, stop, retryable=lambda e: True,
                              server_wait=lambda e: 3600.0, on_retry=lambda e, n, d: waiting.set(),
                              on_giveup=lambda e, n, w: gave_up.append(w))
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    assert waiting.wait(within())  # the helper is about to wait an hour
    stop.set()
    assert done.wait(within())  # not the hour the schedule asked for
    thread.join()
    assert gave_up == ["stopped"]
