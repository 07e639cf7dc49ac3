"""Settings: defaults < YAML file < ``STREAMDASH_*`` environment variables < CLI flags.

Settings are read once, validated, and then passed around as an immutable :class:`Settings`.
Every wrong value raises :class:`~streamdash.errors.ConfigError` naming the dotted key.

Each closed section is a :class:`~streamdash.params.Params` model below (fields, defaults and
ranges declared once); :class:`SettingsModel` puts them together and
:func:`~streamdash.params.parse` validates the whole tree at load, so a misspelt key anywhere
is answered with the closest known one.

Environment variables use ``__`` between section and key: ``STREAMDASH_SOURCE__INTERVAL=2``,
``STREAMDASH_DATA_DIR=/var/lib/streamdash``; values are parsed as YAML scalars. ``PORT`` (set by
Heroku and similar platforms) sets ``server.port`` and ``DATABASE_URL`` (Heroku Postgres) sets
``storage.url`` (used with ``storage.backend: postgres``); ``STREAMDASH_CONFIG`` names the YAML
file when no ``--config`` is given.

Open sections (``source``, ``schema``, ``transforms``, ``alerts``, ``storage``, ``dashboard``,
``auth``) accept keys this module does not know: the component that owns a section validates the
rest when it is built (with its own model and ``params.parse``), and names the key too.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
)

from .config_file import parse_yaml, read_yaml
from .errors import ConfigError, unknown_key
from .params import Float, Int, Params, Text, parse
from .role_settings import StateSection, WorkerSection
from .stream_settings import (
    DEFAULT_STREAM,
    STREAM_KEYS,
    BufferSection,
    DashboardSection,
    OpenSection,
    PipelineSection,
    QueueSection,
    SourceSection,
    StreamModel,
    check_stream_names,
    one_stream_tree,
    overlay_default,
    stream_tree,
)

__all__ = ["DEFAULT_DATA_DIR", "BufferSection", "DashboardSection", "OpenSection",
           "PipelineSection", "QueueSection", "Settings", "SettingsModel", "SourceSection",
           "defaults", "env_values", "known_keys", "load_settings", "read_yaml",
           "with_default_data_dir"]

ENV_PREFIX = "STREAMDASH_"
CONFIG_ENV = "STREAMDASH_CONFIG"
#: Set by gunicorn.conf.py for its worker: the addresses gunicorn listens on (not a setting).
BIND_ENV = "STREAMDASH_BIND"


class ServerSection(Params):
    """``server``: where the dashboard listens, and how many connections one process holds
    (sizing and what happens past each bound: docs/operations.md, "Viewers and connections")."""

    host: Text = "127.0.0.1"
    port: Int = Field(8050, ge=0, le=65535)
    max_request_bytes: Int = Field(1024 * 1024, ge=1024, le=1 << 30)  # larger: HTTP 413
    # Open connections (idle kept-alive ones included); a browser holds about 2, so 4096 is
    # ~2,000 viewers. Past it new ones wait in the backlog. Each costs a file descriptor.
    max_connections: Int = Field(4096, ge=16, le=65536)
    backlog: Int = Field(2048, ge=16, le=65535)  # connections the kernel queues past that
    # Seconds an idle connection stays open for the next request: above the dashboard's
    # refresh, so a viewer's tick reuses its connection.
    keepalive: Int = Field(10, ge=0, le=300)
    # Seconds a client may stay silent after connecting, stall inside a request, or leave
    # the answer unread before its connection is closed (a slow client holds no thread).
    client_timeout: Float = Field(10.0, ge=0.5, le=300)


class LogSection(Params):
    """``log``: level, format and the periodic pipeline summary."""

    level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                     BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v)] = "INFO"
    format: Literal["text", "json"] = "text"
    summary_interval: Float = Field(60.0, ge=0, le=86400)  # seconds; 0 = none


class RuntimeSection(Params):
    """``runtime``: stopping and restarting the pipeline threads."""

    drain_timeout: Float = Field(5.0, ge=0, le=300)  # seconds stop() waits for queued batches
    restart_backoff_max: Float = Field(30.0, ge=0.01, le=3600)  # longest wait before a restart


class ApiSection(Params):
    """``api``: bounds of one ``/api/*`` answer."""

    # A page holds at most this many items (values for /api/metrics): one answer stays near
    # 1 MB of JSON whatever range a client asks for; 'next' pages on.
    max_limit: Int = Field(10_000, ge=10, le=1_000_000)
    # Items are cut at this many bytes of JSON too (quarantined records can be large).
    max_bytes: Int = Field(4 * 1024 * 1024, ge=1024, le=1024 ** 3)
    # A query over a long range (a fine step over 1M snapshots) is interrupted past this.
    max_seconds: Float = Field(10.0, ge=0.1, le=600)


#: An open section: a mapping its owner validates (``schema`` and ``transforms`` may be lists).
Mapping_ = dict[str, Any]


class SettingsModel(StreamModel):
    """Every setting: the stream sections (:class:`StreamModel`: the one stream of a config
    without ``streams``, else the default stream's), the global sections, and ``streams``;
    the closed sections typed here, the open ones checked by their owners."""

    server: ServerSection = ServerSection()
    # Empty by default so library use (create_app(), tests) never writes files; the CLI and
    # the WSGI entry point fill in DEFAULT_DATA_DIR via with_default_data_dir().
    data_dir: Text = ""  # folder for persisted history ('' = keep it in memory only)
    log: LogSection = LogSection()
    runtime: RuntimeSection = RuntimeSection()
    api: ApiSection = ApiSection()
    state: StateSection = StateSection()
    worker: WorkerSection = WorkerSection()
    storage: Mapping_ | None = None  # store/history.py
    auth: Mapping_ | None = None  # auth_config.py
    # Several named streams (stream_settings.py); before 'streams' so its check can read it.
    max_streams: Int = Field(16, ge=1, le=256)  # most streams one config may declare
    streams: dict[str, StreamModel] | None = None

    @field_validator("streams", mode="before")
    @classmethod
    def _stream_names(cls, value: Any, info: ValidationInfo) -> Any:
        return check_stream_names(value, info.data.get("max_streams", 16))


#: Top-level keys whose value the owner validates as a whole (no typed fields here).
OPEN = frozenset({"schema", "transforms", "alerts", "storage", "auth"})


def _sections() -> dict[str, type[Params] | None]:
    """Each top-level key and its section model (``None`` for a scalar or an open section)."""
    out: dict[str, type[Params] | None] = {}
    for name, field in SettingsModel.model_fields.items():
        kind = field.annotation
        out[field.alias or name] = kind if isinstance(kind, type) and \
            issubclass(kind, Params) else None
    return out


def known_keys() -> list[str]:
    """Every section name and every dotted key of the closed sections (for "did you mean")."""
    keys = []
    for top, model in _sections().items():
        keys.append(top)
        keys += [f"{top}.{f.alias or n}" for n, f in (model.model_fields if model else {}).items()]
    return sorted(keys)


#: Where ``streamdash run`` and ``streamdash.wsgi`` keep history when no data_dir is set.
DEFAULT_DATA_DIR = "streamdash-data"


def with_default_data_dir(settings: Settings) -> Settings:
    """``settings`` with ``data_dir`` set to :data:`DEFAULT_DATA_DIR` when none was configured."""
    if settings.get("data_dir"):
        return settings
    return settings.with_overrides({"data_dir": DEFAULT_DATA_DIR})


def defaults() -> dict[str, Any]:
    """The default settings as a nested dict (a fresh copy every call)."""
    return _tree(SettingsModel(), {})


def _tree(model: SettingsModel, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The validated values as a nested dict: every closed section, the open ones as given."""
    out: dict[str, Any] = {}
    for top, section in _sections().items():
        if top == "streams":
            if model.streams is not None:
                given = raw.get("streams") or {}
                out[top] = {name: stream_tree(stream, given.get(name) or {})
                            for name, stream in model.streams.items()}
            continue
        if top in OPEN:
            if top in raw:
                out[top] = copy.deepcopy(raw[top])
        elif section is None:
            out[top] = getattr(model, top)
        else:
            out[top] = getattr(model, top).model_dump(by_alias=True)
    return out


def _check_declared(key: str) -> None:
    """Raise ``ConfigError`` for a dotted key that no section declares (nor an open one holds)."""
    top, *rest = key.split(".")
    sections = _sections()
    if top not in sections:
        raise unknown_key(key, top, sections, what="setting (in Settings.get)")
    model = sections[top]
    declared = [f.alias or n for n, f in model.model_fields.items()] if model else []
    if model is not None and rest and rest[0] not in declared \
            and not issubclass(model, OpenSection):
        raise unknown_key(key, rest[0], declared, what=f"setting in '{top}' (Settings.get)")
    if top == "streams":  # a mapping of names: any name may be asked for
        return
    leaf = top if model is None and top not in OPEN else \
        f"{top}.{rest[0]}" if rest and rest[0] in declared else None
    if leaf is not None and len(rest) > (0 if model is None else 1):
        raise ConfigError(key, f"'{leaf}' is a value, not a section (Settings.get)")


class Settings:
    """Validated, read-only settings.

    Read with dotted keys: ``settings.get("source.interval")``, or typed:
    ``settings.model.queue.maxsize``; ``settings.section("source")`` returns a copy of a whole
    section (open sections included). A key no section declares raises ``ConfigError``.
    """

    def __init__(self, values: Mapping[str, Any] | None = None):
        merged: dict[str, Any] = {}
        if values:
            _merge(merged, _expand(dict(values)))
        overlay_default(merged)
        #: The validated closed sections, typed (``settings.model.queue.maxsize``).
        self.model: SettingsModel = parse(SettingsModel, merged, "")
        self._tree = _tree(self.model, merged)
        if self.model.streams is not None:  # the top-level stream sections: the default's
            for key in STREAM_KEYS:
                self._tree.pop(key, None)
            self._tree.update(copy.deepcopy(self._tree["streams"][self.default_stream]))
            self.model = parse(SettingsModel, self._tree, "")  # typed as the tree says

    # -- streams -----------------------------------------------------------------------------
    @property
    def multi(self) -> bool:
        """Whether the config declares ``streams`` (else it is one stream, as before)."""
        return self.model.streams is not None

    def stream_names(self) -> list[str]:
        """The streams, in config order; the first is the default."""
        return list(self.model.streams) if self.model.streams is not None else [DEFAULT_STREAM]

    @property
    def default_stream(self) -> str:
        """The stream shown when none is asked for: the first declared, or ``default``."""
        return self.stream_names()[0]

    def for_stream(self, name: str) -> Settings:
        """One stream's settings as a single-stream config: the global sections, the stream's
        own, and its own history (``<data_dir>/streams/<name>``, PostgreSQL schema
        ``<storage.schema>_<name>``). A config without ``streams`` is returned as it is."""
        if not self.multi:
            if name != DEFAULT_STREAM:
                raise KeyError(name)
            return self
        tree = one_stream_tree(self.as_dict(), name)
        return Settings(tree)

    def get(self, key: str, default: Any = None) -> Any:
        """The value at a dotted key; ``default`` when an open section lacks it.

        A key that no section declares (``queue.maxsze``, ``nope``) raises ``ConfigError``
        naming it with the closest known key: a typo never reads as "unset".
        """
        node: Any = self._tree
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:  # every declared key of a closed section is in the tree: only a miss is checked
            return copy.deepcopy(node)
        _check_declared(key)
        return default

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
        return self.model.source.interval

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
    tree: dict[str, Any] = {}
    if config_file:
        _merge(tree, read_yaml(config_file))
    _merge(tree, env_values(environ))
    if overrides:
        _merge(tree, _expand({k: v for k, v in overrides.items() if v is not None}))
    return Settings(tree)


def env_values(environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings found in environment variables (``STREAMDASH_A__B`` → ``a.b``; ``PORT`` →
    ``server.port`` and ``DATABASE_URL`` → ``storage.url``, as Heroku sets them)."""
    out: dict[str, Any] = {}
    if environ.get("PORT"):
        _set(out, "server.port", _scalar(environ["PORT"]))
    if environ.get("DATABASE_URL"):  # a URL as it is (no YAML reading of its text)
        _set(out, "storage.url", environ["DATABASE_URL"])
    sections = _sections()
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name in (CONFIG_ENV, BIND_ENV):
            continue
        key = name[len(ENV_PREFIX):].lower().replace("__", ".")
        if key.split(".", 1)[0] not in sections:
            raise unknown_key(name, key, known_keys(),
                              what=f"setting '{key}' (from the environment)")
        _set(out, key, _scalar(raw))
    return out


def _scalar(raw: str) -> Any:
    try:
        return parse_yaml(raw) if raw.strip() else ""
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
