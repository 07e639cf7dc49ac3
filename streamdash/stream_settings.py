"""The settings of one stream, and how a config declares several (``streams``).

A *stream* is one source with its schema, transforms, alert rules, dashboard fields, buffer
and queue: the sections in :data:`STREAM_KEYS`. Everything else (``server``, ``auth``,
``state``, ``storage``, ``worker``, ``log``, ``api``, ``runtime``, ``data_dir``) is the
deployment's and stays global.

A config without ``streams`` is one stream named :data:`DEFAULT_STREAM` (as before). With
``streams: {quakes: {...}, prices: {...}}`` each entry is validated as a :class:`StreamModel`;
the first one is the default stream (the page and the API show it when no ``?stream=`` is
given), and top-level stream sections given as well (a flag, an environment variable) are laid
over it — so ``--interval 2`` and ``STREAMDASH_SOURCE__INTERVAL`` keep working on a
multi-stream config. Names are safe identifiers (:data:`STREAM_NAME`): they become URL
parameters, Redis keys, file names, PostgreSQL schema names and Prometheus labels.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field

from .errors import ConfigError
from .params import Float, Int, Params, Text, TextList

__all__ = ["DEFAULT_STREAM", "MAX_STREAM_NAME", "STREAM_KEYS", "STREAM_NAME", "StreamModel",
           "check_stream_names", "one_stream_tree", "overlay_default", "stream_tree"]

#: The name of the one stream a config without ``streams`` runs (the state layer's keys).
DEFAULT_STREAM = "default"
#: Longest stream name: with the default ``storage.schema`` (10 characters) a PostgreSQL
#: schema name stays within its 63.
MAX_STREAM_NAME = 32
#: A stream name: lower case (PostgreSQL folds schema names), a letter first, no separator of
#: a URL, a path, a Redis key (``:``) or a label.
STREAM_NAME = re.compile(rf"[a-z][a-z0-9_]{{0,{MAX_STREAM_NAME - 1}}}")
#: The sections each stream has its own of (the rest of the settings are global).
STREAM_KEYS = ("source", "schema", "transforms", "alerts", "dashboard", "buffer", "queue",
               "pipeline")
#: The stream sections whose value the owning component validates as a whole.
OPEN_STREAM_KEYS = frozenset({"schema", "transforms", "alerts"})


class OpenSection(Params):
    """A section whose other keys belong to a component (the source's, the dashboard's)."""

    model_config = ConfigDict(extra="allow")


class SourceSection(OpenSection):
    """``source``: which source; its own parameters are validated by the source."""

    type: Text = "simulated"  # source kind or preset name
    name: Text = ""  # display name (defaults to the type)
    interval: Float = Field(5.0, ge=0.1, le=3600)  # seconds between fetches


class QueueSection(Params):
    """``queue``: the bounded queue between producer and consumer."""

    maxsize: Int = Field(100, ge=1, le=1_000_000)  # batches the queue holds
    policy: Literal["block", "drop_oldest"] = "block"  # what to do when full
    # Batches alone bound nothing (one response can be 900k records): records and bytes too.
    max_records: Int = Field(100_000, ge=1, le=100_000_000)  # all batches together
    max_bytes: Int = Field(64 * 1024 * 1024, ge=1024, le=1 << 40)  # estimated memory
    max_batch_records: Int = Field(5_000, ge=1, le=10_000_000)  # a bigger fetch is split


class BufferSection(Params):
    """``buffer``: records kept in memory for the dashboard."""

    capacity: Int = Field(10_000, ge=10, le=10_000_000)


def _field_list(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of field names, got {value!r}")
    return value


class PipelineSection(Params):
    """``pipeline``: fields every record must have (default: the source's)."""

    required: Annotated[TextList | None, BeforeValidator(_field_list)] = None


class DashboardSection(OpenSection):
    """``dashboard``: the keys every part reads; the dashboard validates the rest."""

    refresh: Float = Field(5.0, ge=0, le=3600)  # seconds between refreshes (0 = paused)
    value_field: Text = ""  # numeric field charted (default: the source's)
    key_field: Text = ""  # field that splits series (default: the source's)


class StreamModel(Params):
    """One entry of ``streams``: the stream sections (:data:`STREAM_KEYS`), typed as at the
    top level; the open ones are checked by their owners when the stream is built."""

    source: SourceSection = SourceSection()
    queue: QueueSection = QueueSection()
    buffer: BufferSection = BufferSection()
    pipeline: PipelineSection = PipelineSection()
    dashboard: DashboardSection = DashboardSection()
    schema_: Any = Field(None, alias="schema")  # pipeline/schema.py
    transforms: Any = None  # pipeline/transforms.py
    alerts: Any = None  # quality/settings.py


def check_stream_names(value: Any, max_streams: int) -> Any:
    """``value`` (the raw ``streams`` mapping) when its size and names are acceptable, else
    ``ValueError`` saying which — checked before any stream is validated, so 10,000 streams
    cost one ``len``."""
    if value is None:
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a mapping of stream names to stream settings, got "
                         f"{type(value).__name__}")
    if not value:
        raise ValueError("declare at least one stream (or leave 'streams' out: the top-level "
                         "source is then the one stream)")
    if len(value) > max_streams:
        raise ValueError(f"{len(value)} streams, more than max_streams ({max_streams})")
    for name in value:
        if not isinstance(name, str) or not STREAM_NAME.fullmatch(name):
            shown = str(name)[:MAX_STREAM_NAME + 8]
            raise ValueError(f"stream name {shown!r}: expected 1–{MAX_STREAM_NAME} lower-case "
                             "letters, digits or '_', starting with a letter")
    return value


def overlay_default(merged: dict[str, Any]) -> None:
    """With ``streams``, lay the top-level stream sections given in ``merged`` (a flag, an
    environment variable, a settings tree read back) over the first stream's, in place."""
    streams = merged.get("streams")
    if not isinstance(streams, dict) or not streams:
        return
    first = next(iter(streams))
    if not isinstance(streams[first], dict):
        return  # the model names the bad value
    target = streams[first] = copy.deepcopy(streams[first])
    for key in STREAM_KEYS:
        if key in merged:
            given, have = merged[key], target.get(key)
            if isinstance(given, dict) and isinstance(have, dict):
                target[key] = _merged(have, given)
            else:
                target[key] = copy.deepcopy(given)


def _merged(base: dict[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def stream_tree(model: StreamModel, raw: Mapping[str, Any]) -> dict[str, Any]:
    """One validated stream as a nested dict: its closed sections with their defaults, its
    open ones as given."""
    out: dict[str, Any] = {}
    for name, field in StreamModel.model_fields.items():
        key = field.alias or name
        if key in OPEN_STREAM_KEYS:
            if key in raw:
                out[key] = copy.deepcopy(raw[key])
        else:
            out[key] = getattr(model, name).model_dump(by_alias=True)
    return out


def one_stream_tree(tree: dict[str, Any], name: str) -> dict[str, Any]:
    """The settings tree of stream ``name`` alone (``tree``: a multi-stream config's, taken
    apart): the global sections, the stream's own, its own history — the folder
    ``<data_dir>/streams/<name>``, the PostgreSQL schema ``<storage.schema>_<name>``
    (``ConfigError`` when that passes PostgreSQL's 63 characters) — and the alert label
    ``stream: <name>``."""
    stream = tree.pop("streams")[name]
    for key in STREAM_KEYS:
        tree.pop(key, None)
    tree.update(stream)
    if tree.get("data_dir"):
        tree["data_dir"] = str(Path(tree["data_dir"]) / "streams" / name)
    storage = dict(tree.get("storage") or {})
    schema = f"{storage.get('schema', 'streamdash')}_{name}"
    if len(schema) > 63:
        raise ConfigError(f"streams.{name}", f"its PostgreSQL schema {schema[:80]!r} "
                                             "(storage.schema + '_' + name) is longer than 63 "
                                             "characters: shorten one of them")
    tree["storage"] = {**storage, "schema": schema}
    alerts = tree.get("alerts")
    if alerts is None or isinstance(alerts, dict):  # else the monitor names what is wrong
        # Like Prometheus's external labels: a webhook receiving several streams' alerts
        # tells them apart (the stream's own labels win).
        alerts = dict(alerts or {})
        labels = alerts.get("labels")
        if labels is None or isinstance(labels, dict):
            alerts["labels"] = {"stream": name, **(labels or {})}
        tree["alerts"] = alerts
    return tree
