"""Every stream of one config, each its own :class:`~streamdash.runtime.Runtime`.

:class:`StreamRuntimes` builds one runtime per stream (``settings.for_stream(name)``: its own
source, pipeline, buffer, alerts and history) and starts and stops them together. A config
without ``streams`` gives one runtime named ``default``, built exactly as before.

A stream's own history: SQLite in ``<data_dir>/streams/<name>/`` and PostgreSQL in the schema
``<storage.schema>_<name>`` of the same database (``Settings.for_stream``). Separate files and
schemas need no change to the history's tables, queries or migrations, and ``streamdash
history`` reads one stream's history by pointing at its folder or schema.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from .config import Settings
from .errors import ConfigError
from .runtime import Runtime
from .sources import Source
from .stream_settings import STREAM_KEYS
from .threads import Managed

__all__ = ["StreamRuntimes", "stream_error"]


def stream_error(name: str, exc: ConfigError) -> ConfigError:
    """``exc`` (raised while building stream ``name`` from its single-stream settings) keyed
    where the user wrote it: ``source.url`` → ``streams.quakes.source.url``."""
    if exc.key.split(".", 1)[0].split("[", 1)[0] not in STREAM_KEYS:
        return exc
    return ConfigError(f"streams.{name}.{exc.key}", exc.problem)


class StreamRuntimes(Managed):
    """The runtimes of every stream, by name, in config order (the first is the default).

    ``source`` (tests) replaces the default stream's source, ``runtime`` the default stream's
    whole runtime; ``build`` makes the others (``Runtime`` by default). A ``Service``:
    ``start()``/``stop()`` are idempotent, ``stop()`` stops every stream at once (each drains
    in parallel, so shutdown takes one drain, not one per stream).
    """

    def __init__(self, settings: Settings, source: Source | None = None, *,
                 runtime: Runtime | None = None,
                 build: Callable[[Settings], Runtime] = Runtime):
        self.settings = settings
        self.default = settings.default_stream
        self.runtimes: dict[str, Runtime] = {}
        try:
            for name in settings.stream_names():
                if name == self.default and runtime is not None:
                    self.runtimes[name] = runtime
                    continue
                own = settings.for_stream(name)
                try:
                    self.runtimes[name] = Runtime(own, source) if name == self.default and \
                        source is not None else build(own)
                except ConfigError as exc:
                    raise stream_error(name, exc) if settings.multi else exc from None
        except BaseException:
            self.close()
            raise

    def __getitem__(self, name: str) -> Runtime:
        return self.runtimes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.runtimes)

    def __len__(self) -> int:
        return len(self.runtimes)

    def items(self) -> list[tuple[str, Runtime]]:
        """``(name, runtime)`` in config order."""
        return list(self.runtimes.items())

    @property
    def first(self) -> Runtime:
        """The default stream's runtime."""
        return self.runtimes[self.default]

    @property
    def running(self) -> bool:
        """Whether any stream runs."""
        return any(rt.running for rt in self.runtimes.values())

    @property
    def started_at(self) -> float | None:
        """When the default stream started (``None`` before ``start``)."""
        return self.first.started_at

    def start(self) -> None:
        """Start every stream (each does nothing when it runs already)."""
        for rt in self.runtimes.values():
            rt.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop every stream at once (each drains for at most ``timeout`` s); True when all
        ended in time."""
        if len(self.runtimes) == 1:
            return self.first.stop(timeout)
        ended: dict[str, bool] = {}

        def stop_one(name: str, rt: Runtime) -> None:
            ended[name] = rt.stop(timeout)
        threads = [threading.Thread(target=stop_one, args=item, name=f"streamdash-stop-{item[0]}")
                   for item in self.runtimes.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return all(ended.get(name, False) for name in self.runtimes)

    def close(self) -> None:
        """Close the sources of runtimes that were built but never started (a check)."""
        for rt in self.runtimes.values():
            rt.source.close()
