"""How N workers spread M streams: each holds its fair share, ``ceil(M / live workers)``.

Every spreading worker (``streamdash worker`` on a multi-stream config, :mod:`streamdash.spread`)
publishes a heartbeat ``P:_workers:<id>`` that expires ``state.lease_ttl`` after its last
renewal (no stream name starts with ``_``, so the key never meets a stream's). At each round it
counts the live heartbeats and asks :func:`plan` what to do: take free streams up to its share,
or give up the streams over it — after a worker joined, the others' shares shrink and they
release streams for the newcomer; after one died, its heartbeat and leases expire and the
others' shares grow over its streams. :func:`plan` is pure, so the decision is tested alone.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Any

from .layout import text

#: Heartbeats counted at most (a bound on one round's SCAN; far above any real deployment).
MAX_WORKERS = 1024


def fair_share(streams: int, live: int) -> int:
    """The most streams one of ``live`` workers holds: ``ceil(streams / live)`` (a worker
    always counts itself, so ``live`` is at least 1)."""
    return math.ceil(streams / max(1, live))


def plan(streams: Sequence[str], held: Collection[str], free: Collection[str],
         live: int) -> tuple[list[str], list[str]]:
    """``(to_take, to_release)`` for a worker holding ``held`` of ``streams`` (config order)
    while ``free`` have no holder and ``live`` workers run: the first free streams up to its
    share, or the last held streams over it. One of the two lists is always empty."""
    share = fair_share(len(streams), live)
    mine = [s for s in streams if s in held]
    if len(mine) > share:
        return [], mine[share:]
    return [s for s in streams if s in free and s not in held][:share - len(mine)], []


def heartbeat_key(prefix: str, worker_id: str) -> str:
    """The key saying worker ``worker_id`` is alive (see the module docstring)."""
    return f"{prefix}:_workers:{worker_id}"


def beat(client: Any, prefix: str, worker_id: str, ttl: float) -> None:
    """Say this worker is alive for ``ttl`` more seconds."""
    client.set(heartbeat_key(prefix, worker_id), worker_id, px=int(ttl * 1000))


def live_workers(client: Any, prefix: str) -> list[str]:
    """The ids of the workers whose heartbeat has not expired (at most :data:`MAX_WORKERS`)."""
    found: list[str] = []
    for key in client.scan_iter(match=heartbeat_key(prefix, "*"), count=100):
        found.append(text(key).rsplit(":", 1)[-1])
        if len(found) >= MAX_WORKERS:
            break
    return sorted(found)
