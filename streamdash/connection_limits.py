"""The web server's connection limits, from the ``server`` settings, for every way it runs.

``streamdash run`` (:mod:`streamdash.serving`), the Procfile (``gunicorn.conf.py``) and the
viewers benchmark all serve through gunicorn with :func:`gunicorn_limits`, so a limit sized and
measured once is the limit deployed. Sizing, and what happens past each bound:
docs/operations.md, "Viewers and connections".
"""

from __future__ import annotations

import resource
from typing import Any

from .config import Settings
from .errors import ConfigError

#: File descriptors a web process needs besides its client connections: the listening socket,
#: SQLite, logs, the source's and the webhook's HTTP connections, gunicorn's pipes.
FD_HEADROOM = 256


def gunicorn_limits(settings: Settings) -> dict[str, Any]:
    """gunicorn settings for the ``server`` section's connection limits."""
    from .http_worker import bounded_worker  # gunicorn: only where gunicorn runs

    server = settings.model.server
    return {
        "worker_class": bounded_worker(server.client_timeout),
        "worker_connections": server.max_connections,
        "backlog": server.backlog,
        "keepalive": server.keepalive,
        # A file is sent by writes the worker can bound (os.sendfile would wait without one).
        "sendfile": False,
    }


def ensure_open_files(connections: int, key: str = "server.max_connections",
                      limits: Any = resource) -> int:
    """Let this process open ``connections`` + :data:`FD_HEADROOM` files; returns the limit.

    Raises the soft ``RLIMIT_NOFILE`` up to the hard one when needed (child processes inherit
    it); when even the hard limit is too low, a :class:`ConfigError` at ``key`` says so rather
    than letting connections fail one by one at run time. ``limits`` is the ``resource``
    module (tests pass their own).
    """
    needed = connections + FD_HEADROOM
    soft, hard = limits.getrlimit(limits.RLIMIT_NOFILE)
    if soft == limits.RLIM_INFINITY or soft >= needed:
        return soft
    if hard != limits.RLIM_INFINITY and hard < needed:
        raise ConfigError(key, f"{connections} connections need {needed} open files, but this "
                               f"process may open at most {hard} (ulimit -Hn): lower {key} or "
                               "raise the limit")
    try:
        limits.setrlimit(limits.RLIMIT_NOFILE, (needed, hard))
    except (ValueError, OSError) as exc:
        raise ConfigError(key, f"{connections} connections need {needed} open files; raising "
                               f"the limit from {soft} failed ({exc}): lower {key} or raise the "
                               "limit (ulimit -n)") from None
    return needed
