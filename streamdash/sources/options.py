"""Value types of source settings, for the sources' :class:`~streamdash.params.Params` models.

Each is an ``Annotated`` type whose validator raises ``ValueError`` with the words every
setting uses (``parse`` puts the dotted key in front), or ``ConfigError`` at a key relative to
the ``source`` section when the bad part is nested (``params.a``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator

from ..errors import ConfigError
from .fields import FieldSpec, parse_fields


def _text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list, tuple, set)):
        raise ValueError(f"expected text, got {value!r}")
    return str(value)


def _url_check(schemes: tuple[str, ...], need_host: bool) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        url = _text(value).strip()
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
        except ValueError as exc:  # 'http://[::1' (unclosed IPv6 bracket), 'http://h:99999'
            raise ValueError(f"not a valid URL ({exc}), got {url!r}") from None
        if parts.scheme not in schemes or (need_host and not parts.hostname):
            raise ValueError(f"expected a URL with {' or '.join(f'{s}://' for s in schemes)}, "
                             f"got {url!r}")
        return url
    return check


def url_of(*schemes: str, need_host: bool = True) -> Any:
    """The type of an absolute URL with one of ``schemes`` (and a host, with ``need_host``):
    ``url_of("mqtt", "mqtts")``."""
    return Annotated[str, BeforeValidator(_url_check(schemes, need_host))]


def _text_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a mapping of names to values, got {value!r}")
    return {str(name): item for name, item in value.items()}


def _scalar_text(value: Any) -> str:
    # YAML turns `true` into a bool: send it as the text the user wrote, lower case.
    if value is None or isinstance(value, (dict, list)):
        raise ValueError(f"expected a text value, got {value!r}")
    return "true" if value is True else "false" if value is False else str(value)


def _name_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of names, got {value!r}")
    return tuple(value)


def _field_map(value: Any) -> tuple[FieldSpec, ...]:
    if isinstance(value, tuple) and all(isinstance(v, FieldSpec) for v in value):
        return value  # already parsed (a preset's, or a test's)
    return parse_fields("fields", value)


#: Any scalar as text (a number becomes its digits); a mapping or list is refused.
Text = Annotated[str, BeforeValidator(_text)]
#: An absolute ``http://`` or ``https://`` URL.
HttpUrl = url_of("http", "https")
#: Names to scalar values (query parameters, headers), values as text.
TextMap = Annotated[dict[str, Annotated[str, BeforeValidator(_scalar_text)]],
                    BeforeValidator(_text_map)]
#: A list of names, or one comma-separated text (``"a, b"``).
NameList = Annotated[tuple[str, ...], BeforeValidator(_name_list)]
#: A field map (``fields``: name → ``path[:type]``), see :mod:`.fields`.
FieldMap = Annotated[tuple[FieldSpec, ...], BeforeValidator(_field_map)]


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


def _env_map(setting: str) -> AfterValidator:
    def expand(value: dict[str, str]) -> dict[str, str]:
        return {k: expand_env(f"{setting}.{k}", v) for k, v in value.items()}
    return AfterValidator(expand)


#: Query parameters, ``${NAME}`` read from the environment at build time.
EnvParams = Annotated[TextMap, _env_map("params")]
#: Request headers (secrets: sent, never shown), ``${NAME}`` read from the environment.
EnvHeaders = Annotated[TextMap, _env_map("headers")]
