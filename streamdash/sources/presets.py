"""Ready-made ``http`` sources for public JSON APIs, selectable by name (``--source NAME``).

A preset supplies the URL, query parameters, record path, field map, a schema and the shortest
poll interval the API's published limits (or update rate) justify. Every ``http`` setting can
still be given and overrides the preset's: ``url``, ``records_path``, ``min_interval`` replace
it; ``params`` and ``fields`` are merged over it (name by name).

* ``usgs-earthquakes`` — USGS summary GeoJSON feed of the past hour. The feed is regenerated
  about once a minute and every poll returns the whole hour, newest first, so consecutive polls
  overlap and ids repeat by design: the default chain de-duplicates on ``id`` with a TTL of two
  hours (twice the span) and allows an hour of lateness, so a repeat is a ``duplicate``, never
  ``late``, and a quake published minutes after its origin time is not late either. A quake
  whose ``updated`` time changes stays the same record (key ``id``); key dedup on
  ``[id, updated]`` to keep every update (docs/sources.md).
* ``open-meteo`` — Open-Meteo forecast API, ``current`` conditions: one record per poll. Its
  ``time`` is local to the requested ``timezone``; the response's ``utc_offset_seconds``
  converts it to UTC. Free use is limited to 600 calls/min and 10,000/day; ``current`` values
  change every 15 minutes.
* ``coinbase-spot`` — Coinbase spot price (``/v2/prices/BTC-USD/spot``): ``data.amount`` is
  text and becomes a float; the response has no time, so ``time`` is the poll time. Public
  data endpoints allow 10,000 requests an hour per IP.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .base import FieldHints, Source, parse_source
from .http import HttpParams, HttpSource


@dataclass(frozen=True)
class Preset:
    """Everything needed to poll one public API."""

    name: str
    description: str
    url: str
    records_path: str
    fields: dict[str, Any]
    hints: FieldHints
    schema: dict[str, Any]
    min_interval: float
    params: dict[str, str] = field(default_factory=dict)
    docs: str = ""
    #: Snapshot span (seconds) by how the URL's path ends, for feeds published in several
    #: spans (USGS ``all_hour`` … ``all_month``); a URL matching none keeps the hints' span.
    spans: dict[str, float] = field(default_factory=dict)

    def snapshot_span(self, url: str) -> float:
        """Seconds every response of ``url`` repeats (see :attr:`FieldHints.snapshot_span`)."""
        path = urlsplit(url).path
        return next((span for end, span in self.spans.items() if path.endswith(end)),
                    self.hints.snapshot_span)

    def settings(self) -> dict[str, Any]:
        """The preset as ``source`` settings of an ``http`` source."""
        return {"url": self.url, "records_path": self.records_path,
                "fields": dict(self.fields), "params": dict(self.params),
                "min_interval": self.min_interval}


def opt(ftype: str, **rules: Any) -> dict[str, Any]:
    """Schema rules of a field the API may omit or send as null."""
    return {"type": ftype, "required": False, "nullable": True, **rules}


def _schema(fields: dict[str, dict[str, Any]], key: str | None, event_time: str) -> dict[str, Any]:
    out: dict[str, Any] = {"fields": fields, "event_time": event_time, "unknown": "keep"}
    if key:
        out["key"] = key
    return out


USGS = Preset(
    name="usgs-earthquakes",
    description="USGS earthquakes of the past hour (GeoJSON summary feed, updated every minute)",
    url="https://earthquake.usgs.gov/earthquakes/feed/v1.0/summary/all_hour.geojson",
    records_path="features",
    fields={
        "id": "id:str",
        "time": "properties.time:timestamp_ms",
        "updated": "properties.updated:timestamp_ms",
        "mag": "properties.mag:float",
        "mag_type": "properties.magType:str",
        "place": "properties.place:str",
        "type": "properties.type:str",
        "status": "properties.status:str",
        "net": "properties.net:str",
        "tsunami": "properties.tsunami:int",
        "sig": "properties.sig:int",
        "lon": "geometry.coordinates.0:float",
        "lat": "geometry.coordinates.1:float",
        "depth_km": "geometry.coordinates.2:float",
        "url": "properties.url:str",
    },
    hints=FieldHints(value_field="mag", key_field="net", time_field="time",
                     required=("id", "time"), numeric_fields=("mag", "lon", "lat", "depth_km"),
                     snapshot_span=3600.0),
    schema=_schema({
        "id": {"type": "str", "required": True},
        "time": {"type": "timestamp", "required": True},
        "updated": opt("timestamp"),
        "mag": opt("float", min=-2.0, max=10.0),
        "mag_type": opt("str"),
        "place": opt("str"),
        "type": opt("str"),
        "status": opt("str", allowed=["automatic", "reviewed", "deleted"]),
        "net": opt("str"),
        "tsunami": opt("int", allowed=[0, 1]),
        "sig": opt("int", min=0),
        "lon": {"type": "float", "required": True, "min": -180.0, "max": 180.0},
        "lat": {"type": "float", "required": True, "min": -90.0, "max": 90.0},
        "depth_km": opt("float", min=-10.0, max=1000.0),
        "url": opt("str"),
    }, key="id", event_time="time"),
    min_interval=60.0,
    docs="https://earthquake.usgs.gov/earthquakes/feed/v1.0/geojson.php",
    spans={"_hour.geojson": 3600.0, "_day.geojson": 86_400.0, "_week.geojson": 604_800.0,
           "_month.geojson": 2_592_000.0},
)

OPEN_METEO = Preset(
    name="open-meteo",
    description="Open-Meteo current weather (temperature, humidity, wind) for one place",
    url="https://api.open-meteo.com/v1/forecast",
    params={"latitude": "52.52", "longitude": "13.41", "timezone": "GMT",
            "current": "temperature_2m,relative_humidity_2m,wind_speed_10m,"
                       "wind_direction_10m,precipitation"},
    records_path="current",
    fields={
        "time": {"path": "time", "type": "timestamp", "utc_offset": "$.utc_offset_seconds"},
        "interval_s": "interval:int",
        "temperature": "temperature_2m:float",
        "humidity": "relative_humidity_2m:float",
        "wind_speed": "wind_speed_10m:float",
        "wind_direction": "wind_direction_10m:float",
        "precipitation": "precipitation:float",
        "latitude": "$.latitude:float",
        "longitude": "$.longitude:float",
        "timezone": "$.timezone:str",
    },
    hints=FieldHints(value_field="temperature", key_field="", time_field="time",
                     required=("time",),
                     numeric_fields=("temperature", "humidity", "wind_speed", "precipitation"),
                     # `current` repeats the same reading for its 15-minute interval.
                     snapshot_span=900.0),
    schema=_schema({
        "time": {"type": "timestamp", "required": True},
        "interval_s": opt("int"),
        "temperature": opt("float", min=-90.0, max=60.0),
        "humidity": opt("float", min=0.0, max=100.0),
        "wind_speed": opt("float", min=0.0, max=500.0),
        "wind_direction": opt("float", min=0.0, max=360.0),
        "precipitation": opt("float", min=0.0),
        "latitude": {"type": "float", "required": True, "min": -90.0, "max": 90.0},
        "longitude": {"type": "float", "required": True, "min": -180.0, "max": 180.0},
        "timezone": opt("str"),
    }, key="time", event_time="time"),
    min_interval=60.0,
    docs="https://open-meteo.com/en/docs",
)

COINBASE = Preset(
    name="coinbase-spot",
    description="Coinbase spot price of BTC in USD (change the pair in the URL)",
    url="https://api.coinbase.com/v2/prices/BTC-USD/spot",
    records_path="data",
    fields={"price": "amount:float", "base": "base:str", "currency": "currency:str",
            "time": "@fetched_at"},
    hints=FieldHints(value_field="price", key_field="base", time_field="time",
                     required=("price", "time"), numeric_fields=("price",)),
    schema=_schema({
        "price": {"type": "float", "required": True, "min": 0.0},
        "base": {"type": "str", "required": True},
        "currency": {"type": "str", "required": True},
        "time": {"type": "timestamp", "required": True},
    }, key=None, event_time="time"),
    min_interval=1.0,
    docs="https://docs.cdp.coinbase.com/coinbase-app/track-apis/prices",
)

PRESETS: dict[str, Preset] = {p.name: p for p in (USGS, OPEN_METEO, COINBASE)}


def preset_params(preset: Preset, params: dict[str, Any]) -> dict[str, Any]:
    """The preset's settings with the user's laid over (``params``/``fields`` merged)."""
    merged = preset.settings()
    for key, value in params.items():
        if key in ("params", "fields") and isinstance(value, dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def build_preset(preset_name: str, name: str, params: dict[str, Any],
                 settings: Any = None) -> Source:
    """An :class:`HttpSource` configured by the preset, overridden by ``params``."""
    preset = PRESETS[preset_name]
    kwargs = parse_source(HttpParams, preset_params(preset, params)).kwargs()
    # The preset's hints and schema describe its own field map: keep them when the user only
    # added fields, drop them when a preset field was redefined (or the map replaced).
    user_fields = params.get("fields") or {}
    own_fields = isinstance(user_fields, dict) and not set(user_fields) & set(preset.fields)
    source = HttpSource(name or preset.name, preset=preset.name,
                        hints=preset.hints if own_fields else None,
                        schema=dict(preset.schema) if own_fields else None, **kwargs)
    # The span belongs to the feed, not to the field map: it survives redefined fields.
    span = preset.snapshot_span(str(kwargs.get("url", preset.url)))
    if span != source.hints.snapshot_span:
        source.hints = dataclasses.replace(source.hints, snapshot_span=span)
    return source


class PresetKind:
    """The registry entry of one preset: an ``http`` source (its ``Params``) with the preset's
    settings laid under the user's."""

    Params = HttpParams

    def __init__(self, preset: Preset):
        self.preset = preset
        self.__doc__ = preset.description

    def build(self, name: str, params: dict[str, Any], settings: Any) -> Source:
        """The preset's source, ``params`` overriding its settings."""
        return build_preset(self.preset.name, name, params, settings)


def kinds() -> dict[str, PresetKind]:
    """One registry entry per preset."""
    return {n: PresetKind(p) for n, p in PRESETS.items()}
