"""Casts for source settings (used with :func:`base.take_params`); each names its key on error."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..config import ranged
from ..errors import ConfigError


def number(lo: float, hi: float) -> Callable[[str, Any], float]:
    """A cast to a float between ``lo`` and ``hi`` (inclusive)."""
    return ranged(float, lo, hi)


def boolean(key: str, value: Any) -> bool:
    """``true``/``false`` (also ``yes``/``no``, ``1``/``0`` as text from flags or env)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ConfigError(key, f"expected true or false, got {value!r}")


def text(key: str, value: Any) -> str:
    """Any scalar as text (not a mapping or list)."""
    if isinstance(value, (dict, list)):
        raise ConfigError(key, f"expected text, got {value!r}")
    return str(value)


def http_url(key: str, value: Any) -> str:
    """An absolute ``http://`` or ``https://`` URL."""
    url = text(key, value).strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:  # 'http://[::1' (unclosed IPv6 bracket), 'http://h:99999'
        raise ConfigError(key, f"not a valid URL ({exc}), got {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(key, f"expected an http:// or https:// URL, got {url!r}")
    return url


def text_map(key: str, value: Any) -> dict[str, str]:
    """A mapping of names to scalar values (query params, headers), values as text."""
    if not isinstance(value, Mapping):
        raise ConfigError(key, f"expected a mapping of names to values, got {value!r}")
    out: dict[str, str] = {}
    for name, item in value.items():
        if item is None or isinstance(item, (dict, list)):
            raise ConfigError(f"{key}.{name}", f"expected a text value, got {item!r}")
        out[str(name)] = "true" if item is True else "false" if item is False else str(item)
    return out


def name_list(key: str, value: Any) -> list[str]:
    """A list of names (or one comma-separated text)."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(key, f"expected a list of names, got {value!r}")
    return value


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(key: str, value: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace ``${NAME}`` with the environment variable ``NAME`` (so API keys stay out of files).

    A reference to an unset variable is a ``ConfigError`` naming ``key`` and the variable.
    """
    env = os.environ if environ is None else environ

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise ConfigError(key, f"environment variable {name} is not set")
        return env[name]
    return _ENV_REF.sub(sub, value)
