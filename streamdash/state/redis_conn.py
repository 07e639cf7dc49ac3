"""Connecting to the state store: the URL from the settings, one bounded pool, timeouts, retries.

``state.url`` is a ``redis://`` / ``rediss://`` / ``unix://`` URL or ``${NAME}``, an environment
variable holding one (the default ``${REDIS_URL}`` is what Heroku Redis sets). :func:`connect`
builds a redis-py client on a :class:`redis.BlockingConnectionPool` (at most
``state.max_connections`` connections; a thread waits up to ``state.connect_timeout`` for a free
one instead of failing), with ``state.socket_timeout`` / ``state.connect_timeout`` on every
socket and redis-py's own retry (``state.retries``, exponential backoff with jitter) of a
command that failed on a broken connection — a Redis restart costs one reconnect, not an error.
redis-py is imported here only: the ``memory`` backend needs no Redis package.

Nothing here ever shows a password: :func:`shown_url` is the URL every message and ``/health``
uses, and :func:`unavailable` turns a redis-py failure into a one-line
:class:`~streamdash.errors.StateUnavailable` naming the (masked) URL.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError, StateUnavailable
from ..redact import mask_url
from ..role_settings import REDIS_URL, StateSection

_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
#: redis-py's retry waits: 50 ms doubling with jitter, at most 1 s between tries.
RETRY_BASE, RETRY_CAP = 0.05, 1.0


def resolve_url(params: StateSection, environ: Mapping[str, str] | None = None) -> str:
    """The Redis URL ``state.url`` names (``${NAME}`` read from ``environ``, default
    ``os.environ``); ``ConfigError`` at ``state.url`` when it names an unset variable."""
    env = os.environ if environ is None else environ
    match = _ENV_REF.match(params.url)
    if match is None:
        return params.url
    name = match.group(1)
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError("state.url", f"the environment variable {name} is not set (it must "
                                       "hold the Redis URL, e.g. redis://127.0.0.1:6379/0)")
    if not REDIS_URL.match(value) or value.startswith("$"):
        raise ConfigError("state.url", f"the environment variable {name} does not hold a "
                                       "redis://, rediss:// or unix:// URL")
    return value


def shown_url(url: str) -> str:
    """``url`` as every message shows it: without its password."""
    return mask_url(url)


def unavailable(exc: BaseException, url: str) -> StateUnavailable:
    """A one-line ``StateUnavailable`` for a redis-py failure, naming the masked URL (redis-py
    messages carry the host, never the password; masked again all the same). A command Redis
    refused is said so, without the command (it would quote the data written)."""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    _, marker, tail = reason.partition("of pipeline caused error: ")
    reason = tail if marker else reason
    password = _password(url)
    if password:
        reason = reason.replace(password, "***")
    redis = redis_module()
    what = "unreachable" if isinstance(exc, (redis.ConnectionError, redis.TimeoutError,
                                             OSError)) else "refused a command"
    return StateUnavailable(f"state store {what} ({shown_url(url)}): {reason[:300]}")


def _password(url: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password
    except ValueError:
        return None


def redis_module() -> Any:
    """The ``redis`` package, or a ``ConfigError`` at ``state.backend`` saying how to get it."""
    try:
        import redis
    except ImportError:  # pragma: no cover - the test environment has it
        raise ConfigError("state.backend", "the redis backend needs the redis package: "
                                           "pip install redis") from None
    return redis


def connect(params: StateSection, url: str) -> Any:
    """A redis-py client for ``url`` with the settings' pool, timeouts and retries (no I/O:
    redis-py connects on the first command)."""
    redis = redis_module()
    from redis.backoff import ExponentialWithJitterBackoff
    from redis.retry import Retry

    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=params.max_connections, timeout=params.connect_timeout,
        socket_timeout=params.socket_timeout, socket_connect_timeout=params.connect_timeout,
        retry=Retry(ExponentialWithJitterBackoff(base=RETRY_BASE, cap=RETRY_CAP),
                    params.retries),
        health_check_interval=30, client_name="streamdash")
    return redis.Redis(connection_pool=pool)


def errors() -> tuple[type[BaseException], ...]:
    """The redis-py exceptions that mean "the store did not answer as it should"."""
    redis = redis_module()
    return (redis.RedisError, OSError)
