"""Settings: defaults < YAML file < ``STREAMDASH_*`` environment variables < CLI flags.

Settings are read once, validated, and then passed around as an immutable :class:`Settings`.
Every wrong value raises :class:`~streamdash.errors.ConfigError` naming the dotted key.

Environment variables use ``__`` between section and key: ``STREAMDASH_SOURCE__INTERVAL=2``,
``STREAMDASH_DATA_DIR=/var/lib/streamdash``; values are parsed as YAML scalars. ``PORT`` (set by
Heroku and similar platforms) sets ``server.port``; ``STREAMDASH_CONFIG`` names the YAML file when
no ``--config`` is given.

Open sections (``source``, ``schema``, ``transforms``, ``alerts``, ``storage``, ``dashboard``)
accept keys this module does not know: the component that owns a section validates the rest
when it is built, and raises ``ConfigError`` naming the key too.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, unknown_key

ENV_PREFIX = "STREAMDASH_"
CONFIG_ENV = "STREAMDASH_CONFIG"


@dataclass(frozen=True)
class Option:
    """One known setting: its default, how to cast raw text to it, and a docstring."""

    default: Any
    cast: Callable[[str, Any], Any]
    doc: str = ""


def ranged(kind: type, lo: float, hi: float) -> Callable[[str, Any], Any]:
    """A cast of a setting to ``kind`` (int or float) between ``lo`` and ``hi`` inclusive;
    every other component's numeric settings use it too, so errors read the same everywhere."""
    def cast(key: str, value: Any) -> Any:
        if isinstance(value, bool):
            raise ConfigError(key, f"expected a number, got {value!r}")
        try:
            out = kind(value)
        except (TypeError, ValueError):
            raise ConfigError(key, f"expected {'an integer' if kind is int else 'a number'}, "
                                   f"got {value!r}") from None
        if kind is int and isinstance(value, float) and value != out:
            raise ConfigError(key, f"expected an integer, got {value!r}")
        if not lo <= out <= hi:
            raise ConfigError(key, f"must be between {lo:g} and {hi:g}, got {value!r}")
        return out
    return cast


def _choice(*choices: str) -> Callable[[str, Any], Any]:
    def cast(key: str, value: Any) -> Any:
        text = str(value)
        if key == "log.level":
            text = text.upper()
        if text not in choices:
            raise ConfigError(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return text
    return cast


def _text(key: str, value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        raise ConfigError(key, f"expected text, got {value!r}")
    return str(value)


def _field_list(key: str, value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(key, f"expected a list of field names, got {value!r}")
    return value


OPTIONS: dict[str, Option] = {
    "source.type": Option("simulated", _text, "source kind or preset name"),
    "source.name": Option("", _text, "display name (defaults to the type)"),
    "source.interval": Option(5.0, ranged(float, 0.1, 3600), "seconds between fetches"),
    "queue.maxsize": Option(100, ranged(int, 1, 1_000_000), "batches the queue holds"),
    "queue.policy": Option("block", _choice("block", "drop_oldest"), "what to do when full"),
    "buffer.capacity": Option(10_000, ranged(int, 10, 10_000_000), "records kept in memory"),
    "server.host": Option("127.0.0.1", _text, "address the dashboard listens on"),
    "server.port": Option(8050, ranged(int, 0, 65535), "port the dashboard listens on"),
    # Empty by default so library use (create_app(), tests) never writes files; the CLI and
    # the WSGI entry point fill in DEFAULT_DATA_DIR via with_default_data_dir().
    "data_dir": Option("", _text, "folder for persisted history ('' = keep it in memory only)"),
    "log.level": Option("INFO", _choice("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), ""),
    "log.format": Option("text", _choice("text", "json"), "text or JSON lines"),
    "log.summary_interval": Option(60.0, ranged(float, 0, 86400),
                                   "seconds between INFO pipeline summaries (0 = none)"),
    "runtime.drain_timeout": Option(5.0, ranged(float, 0, 300),
                                    "seconds stop() waits for queued batches"),
    "runtime.restart_backoff_max": Option(30.0, ranged(float, 0.01, 3600),
                                          "longest wait before restarting a crashed thread"),
    "pipeline.required": Option(None, _field_list,
                                "fields every record must have (default: the source's)"),
    "dashboard.refresh": Option(5.0, ranged(float, 0, 3600),
                                "seconds between dashboard refreshes (0 = paused)"),
    "dashboard.value_field": Option("", _text, "numeric field charted (default: the source's)"),
    "dashboard.key_field": Option("", _text, "field that splits series (default: the source's)"),
}

OPEN_SECTIONS = frozenset({"source", "schema", "transforms", "alerts", "storage", "dashboard"})
SECTIONS = frozenset(k.split(".", 1)[0] for k in OPTIONS if "." in k) | OPEN_SECTIONS


#: Where ``streamdash run`` and ``streamdash.wsgi`` keep history when no data_dir is set.
DEFAULT_DATA_DIR = "streamdash-data"


def with_default_data_dir(settings: Settings) -> Settings:
    """``settings`` with ``data_dir`` set to :data:`DEFAULT_DATA_DIR` when none was configured."""
    if settings.get("data_dir"):
        return settings
    return settings.with_overrides({"data_dir": DEFAULT_DATA_DIR})


def history_data_dir(config_file: str | os.PathLike | None = None, data_dir: str | None = None,
                     environ: Mapping[str, str] | None = None) -> str:
    """The data dir a command reading the history uses: ``data_dir`` (``--data-dir``), else the
    settings' (file, environment), else :data:`DEFAULT_DATA_DIR` — where ``streamdash run``
    writes it. Every such command (``metrics``, ``dlq export``) finds it the same way."""
    settings = load_settings(config_file, environ, overrides={"data_dir": data_dir})
    return with_default_data_dir(settings).get("data_dir")


def defaults() -> dict[str, Any]:
    """The default settings as a nested dict (a fresh copy every call)."""
    tree: dict[str, Any] = {}
    for key, opt in OPTIONS.items():
        _set(tree, key, copy.deepcopy(opt.default))
    return tree


class Settings:
    """Validated, read-only settings.

    Read with dotted keys: ``settings.get("source.interval")``; ``settings.section("source")``
    returns a copy of a whole section (open sections included).
    """

    def __init__(self, values: Mapping[str, Any] | None = None):
        merged = defaults()
        if values:
            _merge(merged, _expand(dict(values)))
        self._tree = validate(merged)

    def get(self, key: str, default: Any = None) -> Any:
        """The value at a dotted key, or ``default`` when absent."""
        node: Any = self._tree
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return copy.deepcopy(node)

    def section(self, name: str) -> Any:
        """A copy of one top-level section (``{}`` when unset)."""
        return copy.deepcopy(self._tree.get(name, {}))

    def as_dict(self) -> dict[str, Any]:
        """A deep copy of every setting."""
        return copy.deepcopy(self._tree)

    def with_overrides(self, values: Mapping[str, Any]) -> Settings:
        """New settings with ``values`` (dotted or nested keys) laid over these."""
        tree = self.as_dict()
        _merge(tree, _expand(dict(values)))
        return Settings(tree)

    @property
    def interval(self) -> float:
        """Seconds between fetches."""
        return self._tree["source"]["interval"]

    def __repr__(self) -> str:
        return f"Settings({self._tree!r})"


def load_settings(config_file: str | os.PathLike | None = None,
                  environ: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Settings:
    """Build settings from every layer: defaults < ``config_file`` < ``environ`` < ``overrides``.

    ``environ`` defaults to ``os.environ``; tests pass their own. ``overrides`` takes dotted keys
    (CLI flags); ``None`` values are ignored so unset flags do not mask lower layers.
    """
    environ = os.environ if environ is None else environ
    config_file = config_file or environ.get(CONFIG_ENV) or None
    tree = defaults()
    if config_file:
        _merge(tree, read_yaml(config_file))
    _merge(tree, env_values(environ))
    if overrides:
        _merge(tree, _expand({k: v for k, v in overrides.items() if v is not None}))
    return Settings(tree)


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML settings file; a missing file or bad YAML is a ``ConfigError``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("--config", f"cannot read {p}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError("--config", f"{p} is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("--config", f"{p} must hold a mapping of settings, not "
                                      f"{type(data).__name__}")
    return data


def env_values(environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings found in environment variables (``STREAMDASH_A__B`` → ``a.b``, ``PORT``)."""
    out: dict[str, Any] = {}
    if environ.get("PORT"):
        _set(out, "server.port", _scalar(environ["PORT"]))
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        key = name[len(ENV_PREFIX):].lower().replace("__", ".")
        if key.split(".", 1)[0] not in SECTIONS and key not in OPTIONS:
            raise unknown_key(name, key, sorted(SECTIONS | set(OPTIONS)),
                              what=f"setting '{key}' (from the environment)")
        _set(out, key, _scalar(raw))
    return out


def validate(tree: dict[str, Any]) -> dict[str, Any]:
    """Check every known key, reject unknown ones, and cast values; returns the tree."""
    for top, value in tree.items():
        if top not in SECTIONS and top not in OPTIONS:
            raise unknown_key(top, top, SECTIONS | {"data_dir"})
        if top in SECTIONS and top not in ("schema", "transforms", "alerts") \
                and not isinstance(value, dict):
            raise ConfigError(top, f"must be a mapping of settings, got {value!r}")
        if isinstance(value, dict) and top not in OPEN_SECTIONS:
            for sub in value:
                if f"{top}.{sub}" not in OPTIONS:
                    known = [k.split(".", 1)[1] for k in OPTIONS if k.startswith(top + ".")]
                    raise unknown_key(f"{top}.{sub}", sub, known, what=f"setting in '{top}'")
    for key, opt in OPTIONS.items():
        section, _, leaf = key.partition(".")
        holder = tree.get(section) if leaf else tree
        name = leaf or section
        value = holder.get(name, opt.default) if isinstance(holder, dict) else opt.default
        if value is not None or opt.default is not None:
            _set(tree, key, opt.cast(key, value))
    return tree


def _scalar(raw: str) -> Any:
    try:
        return yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        return raw


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = node[part] = {}
        node = nxt
    node[parts[-1]] = value


def _expand(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if "." in key:
            _set(out, key, value)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            _merge(out[key], value)
        else:
            out[key] = value
    return out


def _merge(base: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
