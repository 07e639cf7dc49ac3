"""streamdash: real-time data streaming with a live web dashboard.

Public API: :func:`create_app`, :class:`Settings`, :func:`load_settings`, :class:`Runtime`,
``__version__``. Importing the package does not import Dash; :func:`create_app` does.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from .config import Settings, load_settings  # noqa: E402
from .errors import ConfigError, StreamdashError  # noqa: E402


def create_app(settings: Settings | None = None, source: Any = None, **kwargs: Any) -> Any:
    """Build a runtime and the Dash app around it (see :func:`streamdash.app.create_app`)."""
    from .app import create_app as _create_app

    return _create_app(settings, source, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "Runtime":
        from .runtime import Runtime

        return Runtime
    raise AttributeError(name)


__all__ = ["ConfigError", "Runtime", "Settings", "StreamdashError", "__version__", "create_app",
           "load_settings"]
