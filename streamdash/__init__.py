"""streamdash: real-time data streaming with a live web dashboard.

Public API: :func:`create_app`, :class:`Settings`, :func:`load_settings`, :class:`Runtime`,
``__version__``. Importing the package imports nothing else (not even YAML), so
``streamdash --version`` stays instant; each name is imported on first use.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

#: Public names and the modules they live in, imported on first use (PEP 562).
_LAZY = {"Settings": "config", "load_settings": "config", "ConfigError": "errors",
         "StreamdashError": "errors", "Runtime": "runtime"}


def create_app(settings: Any = None, source: Any = None, **kwargs: Any) -> Any:
    """Build a runtime and the Dash app around it (see :func:`streamdash.app.create_app`)."""
    from .app import create_app as _create_app

    return _create_app(settings, source, **kwargs)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(name)


__all__ = ["ConfigError", "Runtime", "Settings", "StreamdashError", "__version__", "create_app",
           "load_settings"]
