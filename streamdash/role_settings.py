"""The settings of the split deployment: ``state`` (where web processes read the streams'
state: this process, or Redis) and ``worker`` (``streamdash worker``'s health probes).

Kept apart from :mod:`streamdash.config`, which composes them into the whole settings tree;
the state layer (:mod:`streamdash.state`) reads these models.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from .params import Float, Int, Params, Text

#: A Redis URL (``redis://``, ``rediss://`` TLS, ``unix://``) or one ``${NAME}`` reference to an
#: environment variable holding it (Heroku sets ``REDIS_URL``).
REDIS_URL = re.compile(r"^(rediss?|unix)://\S+$|^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")


def _redis_url(value: str) -> str:
    if not REDIS_URL.match(value):
        # Not echoed: a mistyped URL still holds its password.
        raise ValueError("expected a redis://, rediss:// or unix:// URL, or ${NAME} naming an "
                         "environment variable that holds one (the value is not shown: it may "
                         "hold a password)")
    return value


def _key_prefix(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", value):
        raise ValueError(f"expected 1–64 letters, digits, '_', '.', ':' or '-', got {value[:64]!r}")
    return value


class StateCaps(Params):
    """``state.caps``: entries each capped Redis stream keeps (``XADD … MAXLEN ~``); the live
    records keep ``buffer.capacity``."""

    quarantine: Int = Field(1000, ge=10, le=1_000_000)
    late: Int = Field(1000, ge=10, le=1_000_000)
    windows: Int = Field(2000, ge=10, le=1_000_000)
    errors: Int = Field(500, ge=10, le=1_000_000)
    transitions: Int = Field(1000, ge=10, le=1_000_000)  # alert state changes
    quality: Int = Field(600, ge=10, le=1_000_000)  # quality evaluations (the chart's points)
    snapshots: Int = Field(720, ge=10, le=1_000_000)  # metrics snapshots (history chart, API)


class StateSection(Params):
    """``state``: where web processes read the streams' state (``memory``: this process)."""

    backend: Literal["memory", "redis"] = "memory"
    url: Annotated[Text, AfterValidator(_redis_url)] = "${REDIS_URL}"
    # Every key starts with it: several deployments may share one Redis.
    key_prefix: Annotated[Text, AfterValidator(_key_prefix)] = "streamdash"
    socket_timeout: Float = Field(2.0, ge=0.05, le=60)  # seconds one command may take
    connect_timeout: Float = Field(2.0, ge=0.05, le=60)  # seconds to connect
    retries: Int = Field(2, ge=0, le=10)  # redis-py's retries of a failed command
    max_connections: Int = Field(32, ge=1, le=10_000)  # the connection pool's bound
    # The worker writes after each batch, at most once per flush_interval (batches in between
    # go together); the heartbeat is rewritten at least once a second.
    flush_interval: Float = Field(0.2, ge=0.01, le=10)
    # Seconds without a write after which web processes report "no worker" (at least three
    # writes: a worker writes at least once a second, or once per flush_interval).
    heartbeat_ttl: Float = Field(10.0, ge=3, le=600)
    read_cache: Float = Field(0.2, ge=0, le=5)  # seconds web viewers share one read
    # A worker holds its stream's lease this long unless it renews it (every third of it): a
    # dead worker's stream passes to a standby within this many seconds.
    lease_ttl: Float = Field(10.0, ge=2, le=600)
    max_entry_bytes: Int = Field(1024 * 1024, ge=1024, le=64 * 1024 * 1024)  # larger: skipped
    # The pipeline's keyed state (dedup keys, watermarks, open windows) is saved with every
    # write for a worker taking the stream over; larger than this, it is refused (counted).
    max_keyed_bytes: Int = Field(8 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    # A worker acknowledges a push source's messages once the write holding them went through
    # (not when stored locally: a kill -9 before the write would lose them); with this many
    # waiting it stops reading the source until a write succeeds (backpressure, no drop).
    max_pending_acks: Int = Field(10_000, ge=1, le=10_000_000)
    caps: StateCaps = StateCaps()

    @field_validator("heartbeat_ttl")
    @classmethod
    def _heartbeat_outlives_writes(cls, ttl: float, info: ValidationInfo) -> float:
        flush = info.data.get("flush_interval")
        if flush is not None and ttl < 3 * flush:
            raise ValueError(f"must be at least three flush intervals ({3 * flush:g} s), or "
                             f"web processes would report a working worker as gone, got {ttl:g}")
        return ttl


class WorkerSection(Params):
    """``worker``: ``streamdash worker``'s only HTTP, its health probes (a side port)."""

    health_host: Text = "127.0.0.1"
    health_port: Int = Field(8051, ge=0, le=65535)  # 0: a free port, printed at start
