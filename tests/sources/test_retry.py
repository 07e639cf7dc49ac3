"""The retry policy: which statuses retry, server wait hints, full-jitter delays."""

from __future__ import annotations

import random

import pytest

from streamdash.errors import ConfigError
from streamdash.sources.base import take_params
from streamdash.sources.retry import (
    RETRY_SPEC,
    RetryPolicy,
    policy_from,
    retry_after,
    retryable_status,
)

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
    """Each delay is drawn from [0, min(cap, base·2^(n-1))]."""
    policy = RetryPolicy(base=0.5, cap=3.0, rng=random.Random(1))
    for attempt, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (10, 3.0)):
        draws = [policy.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling * 0.8  # jitter spans the range


def test_retry_settings_validate_and_build_a_policy():
    """Retry settings are cast and checked; a bad one names its key."""
    p = take_params("source", {"max_tries": "3", "backoff_base": 0.1}, RETRY_SPEC)
    policy = policy_from(p)
    assert (policy.max_tries, policy.base, policy.max_time) == (3, 0.1, 30.0)
    with pytest.raises(ConfigError) as err:
        take_params("source", {"backoff_max": -1}, RETRY_SPEC)
    assert err.value.key == "source.backoff_max"
