"""Choosing the backend: the ``state`` settings section → a store to read, a publisher to write.

* :func:`open_store` — what a web process reads: ``memory`` (needs this process's runtime) or
  ``redis`` (:class:`RedisStore`: the streams a worker publishes, and the history the workers
  write to PostgreSQL with ``storage.backend: postgres`` — :func:`shared_history`).
* :func:`attach_publisher` — with ``state.backend: redis``, a pipeline writes its state there
  (the worker, and ``streamdash run`` when other web processes read it too).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ..config import Settings
from ..errors import ConfigError
from ..pipeline.acks import defer_acks
from ..role_settings import StateSection
from ..store.history import HistoryStore, storage_options
from ..store.history import open_store as open_history_store
from .base import DEFAULT_STREAM, StreamInfo
from .memory import MemoryStore
from .publisher import StatePublisher
from .redis_conn import connect, resolve_url, shown_url
from .redis_reader import RedisStream


class RedisStore:
    """The ``redis`` backend's store: each stream read as a worker published it.

    ``fallback`` gives a stream's :class:`StreamInfo` from the local settings (the page is
    built from it before the worker first wrote). One connection pool serves every stream.
    ``histories`` are the histories the workers share, by stream (their readers' pools
    started here, stopped by :meth:`close`): a stream's API pages and metric charts are read
    from its own.
    """

    backend = "redis"

    def __init__(self, params: StateSection, url: str, client: Any = None, *,
                 names: tuple[str, ...] = (DEFAULT_STREAM,),
                 fallback: Callable[[str], StreamInfo] | None = None,
                 clock: Callable[[], float] = time.time,
                 histories: dict[str, HistoryStore] | None = None):
        self.params = params
        self.url = url
        self.client = client if client is not None else connect(params, url)
        self._names = names
        self._fallback = fallback or (lambda name: StreamInfo(name=name))
        self._clock = clock
        self._streams: dict[str, RedisStream] = {}
        self.histories = histories or {}
        for history in self.histories.values():
            history.start_readers()

    def streams(self) -> list[str]:
        return list(self._names)

    def stream(self, name: str = DEFAULT_STREAM) -> RedisStream:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._streams:
            history = self.histories.get(name)
            reader = history.reader if history is not None else None
            self._streams[name] = RedisStream(self.client, self.params, self.url, name,
                                              fallback=self._fallback(name), clock=self._clock,
                                              history=reader)
        return self._streams[name]

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "url": shown_url(self.url),
                "key_prefix": self.params.key_prefix, "streams": self.streams()}

    def close(self) -> None:
        for history in self.histories.values():
            history.stop_readers()
        self.client.close()
        self.client.connection_pool.disconnect()


def state_params(settings: Settings) -> StateSection:
    """The validated ``state`` section."""
    return settings.model.state


def open_store(settings: Settings, *, runtime: Any = None,
               environ: Mapping[str, str] | None = None,
               names: tuple[str, ...] | None = None,
               fallback: Callable[[str], StreamInfo] | None = None) -> Any:
    """The store ``state.backend`` names: ``memory`` reads ``runtime`` in place; ``redis``
    reads what workers publish at ``state.url`` (``ConfigError`` when it is not set), for
    the streams ``names`` (default: every stream the settings declare)."""
    params = state_params(settings)
    if params.backend == "memory":
        if runtime is None:
            raise ConfigError("state.backend", "memory state lives in the process that runs "
                                               "the pipeline: a web process alone needs "
                                               "state.backend: redis")
        return MemoryStore(runtime)
    names = names or tuple(settings.stream_names())
    return RedisStore(params, resolve_url(params, environ), names=names, fallback=fallback,
                      histories=shared_histories(settings, names))


def shared_histories(settings: Settings, names: tuple[str, ...]) -> dict[str, HistoryStore]:
    """The history every process of a deployment reads, per stream: PostgreSQL at
    ``storage.url`` with ``storage.backend: postgres`` (each stream in its own schema,
    ``Settings.for_stream``). Empty otherwise: a SQLite history lives in the data dir of the
    process writing it, which another process (another machine) cannot read."""
    out: dict[str, HistoryStore] = {}
    for name in names:
        one = settings.for_stream(name)
        options = storage_options(one.section("storage"))
        if options.enabled and options.backend == "postgres":
            out[name] = open_history_store(options.url, options, key="storage.url")
    return out


def attach_publisher(runtime: Any, settings: Settings,
                     environ: Mapping[str, str] | None = None, *,
                     stream: str = DEFAULT_STREAM, worker_id: str | None = None,
                     hold_acks: bool = False) -> StatePublisher | None:
    """With ``state.backend: redis``, a :class:`StatePublisher` of stream ``stream``
    attached to ``runtime`` (it starts and stops with it, its status in ``/health``), writing
    as ``worker_id`` (default: a new id); ``None`` with ``memory``.

    ``hold_acks`` (a worker, whose state lives only in Redis): a push source's batches are
    acknowledged once a write holding them went through, not once stored locally
    (:class:`~streamdash.pipeline.acks.HeldAcks`, at most ``state.max_pending_acks``)."""
    params = state_params(settings)
    if params.backend != "redis":
        return None
    url = resolve_url(params, environ)
    publisher = StatePublisher(runtime, connect(params, url), params, url, stream=stream,
                                worker_id=worker_id)
    if hold_acks:
        publisher.held_acks = defer_acks(runtime.producer, runtime.consumer,
                                         params.max_pending_acks)
        if publisher.held_acks is not None:
            publisher.held_acks.on_full = publisher.hurry
    runtime.attach("state", publisher)
    return publisher
