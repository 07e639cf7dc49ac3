"""Connections to the history's PostgreSQL database, and the pool the readers share.

Every connection is in autocommit mode (work happens in explicit ``transaction()`` blocks),
bounded in time (``storage.connect_timeout`` to connect; a statement timeout), and has the
history's schema (``storage.schema``) on its search path, so the SQL names bare tables.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ....errors import ConfigError
from ....redact import mask_url

APPLICATION = "streamdash-history"


def psycopg() -> Any:
    """The psycopg module, or a ConfigError saying how to install it."""
    try:
        import psycopg as module
        import psycopg_pool  # noqa: F401 - the readers' pool; checked here, used below
    except ImportError:
        raise ConfigError("storage.backend", "postgres needs psycopg 3 and its pool: "
                                             "pip install 'streamdash[postgres]'") from None
    return module


class Postgres:
    """How to reach one history in PostgreSQL: the URL, the schema (``storage.schema``, a
    name already checked), the time bounds."""

    def __init__(self, url: str, *, schema: str = "streamdash", connect_timeout: float = 5.0,
                 statement_timeout: float | None = 30.0):
        self.url = url
        self.schema = schema
        self.connect_timeout = connect_timeout
        self.statement_timeout = statement_timeout
        self.location = mask_url(url)

    def options(self) -> dict[str, Any]:
        """psycopg.connect's keywords besides the URL (libpq's timeout is whole seconds, 2 at
        least; keepalives notice a server that vanished without closing the connection)."""
        return {"autocommit": True, "application_name": APPLICATION,
                "connect_timeout": max(2, math.ceil(self.connect_timeout)),
                "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
                "keepalives_count": 3}

    def configure(self, conn: Any, statement_timeout: float | None = None) -> None:
        """Put the schema on ``conn``'s search path and bound its statements."""
        timeout = self.statement_timeout if statement_timeout is None else statement_timeout
        conn.execute("SELECT set_config('search_path', %s, false), "
                     "set_config('statement_timeout', %s, false)",
                     (self.schema, f"{int((timeout or 0) * 1000)}"))

    def connect(self, statement_timeout: float | None = None) -> Any:
        """A new configured connection (the caller closes it)."""
        conn = psycopg().connect(self.url, **self.options())
        try:
            self.configure(conn, statement_timeout)
        except BaseException:
            conn.close()
            raise
        return conn


class ReaderPool:
    """The connections the readers share while the writer runs (``start``/``stop``, from
    :meth:`History.start` / ``stop``); without it (a command, a reader before the runtime
    starts) each query opens a connection of its own and closes it."""

    def __init__(self, postgres: Postgres, size: int = 4):
        self.postgres = postgres
        self.size = size
        self._pool: Any = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Open the pool (its connections are made in the background)."""
        from psycopg_pool import ConnectionPool

        with self._lock:
            if self._pool is not None:
                return
            pg = self.postgres
            self._pool = ConnectionPool(
                pg.url, kwargs=pg.options(), min_size=1, max_size=self.size, open=False,
                timeout=pg.connect_timeout, name="streamdash-history",
                configure=pg.configure, check=ConnectionPool.check_connection,
                reconnect_timeout=max(60.0, 4 * pg.connect_timeout))
            self._pool.open(wait=False)

    def stop(self, timeout: float = 5.0) -> None:
        """Close the pool and join its threads."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close(timeout)

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A configured connection for one query: the pool's, or a new one."""
        pool = self._pool
        if pool is not None:
            with pool.connection() as conn:
                yield conn
            return
        conn = self.postgres.connect()
        try:
            yield conn
        finally:
            conn.close()
