"""Where the records are in a response, and how each target field is read and typed.

``records_path`` is a dotted path to a list (one record per item) or to one object (one record
per poll); ``""`` means the document itself. ``fields`` maps a target name to a dotted source
path with an optional type::

    fields:
      time: properties.time:timestamp_ms      # epoch milliseconds → UTC ISO-8601
      mag: properties.mag:float
      lon: geometry.coordinates.0:float       # list items by index
      latitude: $.latitude                     # "$." reads from the whole response
      fetched: "@fetched_at"                   # when the poll was made (UTC ISO-8601)
      local: {path: time, type: timestamp, utc_offset: $.utc_offset_seconds}

Types: ``any`` (default, value as is), ``str``, ``float``, ``int``, ``bool``, ``timestamp``
(ISO-8601 text, naive = UTC unless ``utc_offset`` is given, or epoch seconds/milliseconds),
``timestamp_s``, ``timestamp_ms``. A value that cannot be cast is kept as it came so that
validation rejects the record with the offending value instead of losing it; a missing path
leaves the field out (validation reports it as missing when it is required).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..errors import CastError, ConfigError, ShapeError, unknown_key

MISSING: Any = object()
FETCHED_AT = "@fetched_at"
TYPES = ("any", "str", "float", "int", "bool", "timestamp", "timestamp_s", "timestamp_ms")
NUMERIC = ("float", "int")
TIMESTAMPS = ("timestamp", "timestamp_s", "timestamp_ms")
# Epoch numbers above this are milliseconds (1e11 s is the year 5138).
_MS_THRESHOLD = 1e11


def split_path(path: str) -> tuple[str, ...]:
    """``"a.b.0"`` → ``("a", "b", "0")``; ``""`` → ``()``."""
    return tuple(p for p in path.split(".")) if path else ()


def resolve(node: Any, parts: tuple[str, ...]) -> Any:
    """The value at ``parts`` under ``node`` or :data:`MISSING` (list items by index)."""
    for part in parts:
        if isinstance(node, dict):
            node = node.get(part, MISSING)
            if node is MISSING:
                return MISSING
        elif isinstance(node, list) and part.lstrip("-").isdigit():
            i = int(part)
            if not -len(node) <= i < len(node):
                return MISSING
            node = node[i]
        else:
            return MISSING
    return node


def _float(v: Any) -> float:
    if isinstance(v, bool):
        raise CastError("a boolean is not a number")
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            raise CastError(f"not a number: {v!r}") from None
    raise CastError(f"not a number: {v!r}")


def _int(v: Any) -> int:
    out = _float(v)
    if not math.isfinite(out) or out != int(out):
        raise CastError(f"not a whole number: {v!r}")
    return int(out)


def _str(v: Any) -> str:
    if isinstance(v, (dict, list)):
        raise CastError("not a scalar")
    return v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return v.strip().lower() in ("true", "1", "yes")
    raise CastError(f"not a boolean: {v!r}")


def _epoch(seconds: float) -> str:
    """Epoch seconds as ``models.utc_iso`` text (isoformat is much faster than strftime)."""
    if not math.isfinite(seconds):
        raise CastError("not a finite time")
    try:
        text = datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="milliseconds")
    except (OverflowError, OSError, ValueError):
        raise CastError(f"time out of range: {seconds!r}") from None
    return text[:-6] + "Z"  # "+00:00" → "Z"


def _timestamp_s(v: Any) -> str:
    return _epoch(_float(v))


def _timestamp_ms(v: Any) -> str:
    return _epoch(_float(v) / 1000.0)


def parse_time(v: Any, utc_offset: float | None = None) -> float:
    """Epoch seconds from ISO-8601 text or an epoch number (seconds, or ms when huge).

    Naive text is local time ``utc_offset`` seconds east of UTC (UTC when ``None``).
    """
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v / 1000.0 if abs(v) > _MS_THRESHOLD else float(v)
    if not isinstance(v, str):
        raise CastError(f"not a time: {v!r}")
    text = v.strip()
    try:
        return parse_time(float(text), utc_offset)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise CastError(f"not an ISO-8601 time: {v!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
        return dt.timestamp() - (utc_offset or 0.0)
    return dt.timestamp()


CASTS: dict[str, Callable[[Any], Any]] = {
    "any": lambda v: v, "str": _str, "float": _float, "int": _int, "bool": _bool,
    "timestamp_s": _timestamp_s, "timestamp_ms": _timestamp_ms,
}


@dataclass(frozen=True)
class FieldSpec:
    """One target field: its source path, type and (for naive times) UTC offset."""

    name: str
    path: str
    type: str = "any"
    utc_offset: str | float | None = None

    @property
    def parts(self) -> tuple[str, ...]:
        return split_path(self.path[2:] if self.from_root else self.path)

    @property
    def from_root(self) -> bool:
        return self.path.startswith("$.") or self.path == "$"

    def text(self) -> str:
        """``path:type`` as written in settings."""
        return self.path if self.type == "any" else f"{self.path}:{self.type}"


def parse_field(key: str, name: str, spec: Any) -> FieldSpec:
    """One ``fields`` entry: ``"path[:type]"`` or ``{path, type, utc_offset}``."""
    where = f"{key}.{name}"
    if not name or not isinstance(name, str):
        raise ConfigError(key, f"field names must be non-empty text, got {name!r}")
    if isinstance(spec, str):
        path, ftype = spec, "any"
        head, sep, tail = spec.rpartition(":")
        if sep and tail.replace("_", "").isalpha():  # "path:type" (dict form for odd paths)
            path, ftype = head, tail
        spec = {"path": path, "type": ftype}
    if not isinstance(spec, dict):
        raise ConfigError(where, f"expected 'path:type' or a mapping with 'path', got {spec!r}")
    unknown = sorted(set(spec) - {"path", "type", "utc_offset"})
    if unknown:
        raise unknown_key(f"{where}.{unknown[0]}", unknown[0], ("path", "type", "utc_offset"),
                          what="field option")
    path = spec.get("path")
    if not isinstance(path, str) or not path.strip():
        raise ConfigError(f"{where}.path", f"expected a dotted path, got {path!r}")
    ftype = str(spec.get("type") or "any")
    if ftype not in TYPES:
        raise ConfigError(f"{where}.type", f"unknown type {ftype!r} (known: {', '.join(TYPES)})")
    offset = spec.get("utc_offset")
    if offset is not None:
        if ftype != "timestamp":
            raise ConfigError(f"{where}.utc_offset", "only a 'timestamp' field takes a utc_offset")
        if isinstance(offset, bool) or not isinstance(offset, (int, float, str)):
            raise ConfigError(f"{where}.utc_offset",
                              f"expected seconds or a '$.' path, got {offset!r}")
        if isinstance(offset, str) and not offset.startswith("$"):
            try:
                offset = float(offset)
            except ValueError:
                raise ConfigError(f"{where}.utc_offset",
                                  f"expected seconds or a '$.' path, got {offset!r}") from None
    return FieldSpec(name, path.strip(), ftype, offset)


def parse_fields(key: str, value: Any) -> tuple[FieldSpec, ...]:
    """The ``fields`` setting: a mapping name → spec, or a list of ``"name=path[:type]"``."""
    if value is None:
        return ()
    if isinstance(value, list):
        entries = {}
        for item in value:
            if not isinstance(item, str) or "=" not in item:
                raise ConfigError(key, f"expected 'name=path[:type]', got {item!r}")
            name, _, spec = item.partition("=")
            entries[name.strip()] = spec.strip()
        value = entries
    if not isinstance(value, dict):
        raise ConfigError(key, f"expected a mapping of field names to paths, got {value!r}")
    return tuple(parse_field(key, name, spec) for name, spec in value.items())


def _fast_parts(parts: tuple[str, ...]) -> tuple[str | int, ...]:
    return tuple(int(p) if p.lstrip("-").isdigit() else p for p in parts)


class RecordMapper:
    """Builds target records from source objects according to ``fields`` (a no-op without)."""

    def __init__(self, fields: Iterable[FieldSpec] = ()):
        self.fields = tuple(fields)
        # Pre-split paths once: this runs for every record.
        # Index-like segments become ints for the fast path (JSON object keys are always text,
        # so an int segment meeting an object falls back to resolve()).
        self._plan = [(f.name, f.parts, _fast_parts(f.parts), f.from_root, f.path == FETCHED_AT,
                       CASTS.get(f.type), f.utc_offset) for f in self.fields]

    def map(self, records: list[Any], root: Any, fetched_at: float) -> list[Any]:
        """Mapped copies of the dict records; anything else passes through untouched."""
        if not self._plan:
            return records
        fetched = _epoch(fetched_at)
        out = []
        for rec in records:
            if not isinstance(rec, dict):
                out.append(rec)  # validation rejects (and so counts) non-objects
                continue
            target: dict[str, Any] = {}
            for name, parts, fast, from_root, is_fetched, cast, offset in self._plan:
                if is_fetched:
                    target[name] = fetched
                    continue
                value = node = root if from_root else rec
                try:
                    for part in fast:
                        if type(part) is int and type(value) is not list:
                            raise TypeError  # "abc"[0] must not read a character
                        value = value[part]
                except (KeyError, IndexError, TypeError):
                    value = resolve(node, parts)
                    if value is MISSING:
                        continue
                if value is None:
                    target[name] = None
                    continue
                try:
                    if cast is not None:
                        target[name] = cast(value)
                    else:  # "timestamp": may need the UTC offset from the document
                        target[name] = _epoch(parse_time(value, self._offset(offset, root)))
                except CastError:
                    target[name] = value  # kept raw so validation names the bad value
            out.append(target)
        return out

    @staticmethod
    def _offset(offset: str | float | None, root: Any) -> float | None:
        if offset is None or isinstance(offset, (int, float)):
            return offset
        value = resolve(root, split_path(offset[2:]))
        try:
            return _float(value) if value is not MISSING else None
        except CastError:
            return None


def describe_type(value: Any) -> str:
    """A JSON type name for messages (``object``, ``list``, ``text`` …)."""
    return {dict: "object", list: "list", str: "text", bool: "boolean", int: "number",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def extract_records(doc: Any, records_path: str) -> list[Any]:
    """The records at ``records_path``: the list's items, or ``[object]`` for one object.

    Raises :class:`ShapeError` (``records_path``) when the path is missing or leads to a scalar,
    and (``not_objects``) when a non-empty list holds no object at all.
    """
    node = resolve(doc, split_path(records_path))
    where = f"records_path {records_path!r}" if records_path else "the response"
    if node is MISSING:
        hint = f"; top-level keys: {', '.join(list(doc)[:12])}" if isinstance(doc, dict) else \
            f"; the response is a {describe_type(doc)}"
        raise ShapeError("records_path", f"{where} not found{hint}")
    if isinstance(node, dict):
        return [node]
    if not isinstance(node, list):
        raise ShapeError("records_path", f"{where} leads to a {describe_type(node)}, "
                                         f"not a list or an object")
    if node and not any(isinstance(item, dict) for item in node):
        raise ShapeError("not_objects", f"{where} holds a list of {describe_type(node[0])} "
                                        f"values, not objects")
    return node
