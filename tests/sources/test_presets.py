"""Each preset parses a payload of its API's real shape (served locally) into records."""

from __future__ import annotations

import pytest

from streamdash.config import Settings
from streamdash.errors import ConfigError
from streamdash.sources import SOURCES, build_source
from streamdash.sources.http import HttpSource
from streamdash.sources.presets import PRESETS, preset_params
from tests.httpserver import json_reply

# USGS summary feed, GeoJSON (https://earthquake.usgs.gov/earthquakes/feed/v1.0/geojson.php).
USGS_FEED = {
    "type": "FeatureCollection",
    "metadata": {"generated": 1764198000000, "status": 200, "api": "1.14.1", "count": 2,
                 "url": "https://earthquake.usgs.gov/earthquakes/feed/v1.0/summary/all_hour.geojson",
                 "title": "USGS All Earthquakes, Past Hour"},
    "features": [
        {"type": "Feature",
         "properties": {"mag": 1.62, "place": "8 km NW of The Geysers, CA", "time": 1764197412340,
                        "updated": 1764197525120, "tz": None,
                        "url": "https://earthquake.usgs.gov/earthquakes/eventpage/nc75012345",
                        "detail": "https://earthquake.usgs.gov/fdsnws/event/1/query?eventid=nc75012345",
                        "felt": None, "cdi": None, "mmi": None, "alert": None,
                        "status": "automatic", "tsunami": 0, "sig": 40, "net": "nc",
                        "code": "75012345", "ids": ",nc75012345,", "sources": ",nc,",
                        "types": ",nearby-cities,origin,phase-data,", "nst": 21, "dmin": 0.0107,
                        "rms": 0.03, "gap": 53, "magType": "md", "type": "earthquake",
                        "title": "M 1.6 - 8 km NW of The Geysers, CA"},
         "geometry": {"type": "Point", "coordinates": [-122.8215, 38.8245, 2.14]},
         "id": "nc75012345"},
        {"type": "Feature",
         "properties": {"mag": None, "place": "Southern Alaska", "time": 1764196800000,
                        "updated": 1764196900000, "status": "reviewed", "tsunami": 0,
                        "sig": 0, "net": "ak", "magType": "ml", "type": "earthquake",
                        "url": "https://earthquake.usgs.gov/earthquakes/eventpage/ak0251234"},
         "geometry": {"type": "Point", "coordinates": [-151.2, 61.1, 45.3]},
         "id": "ak0251234"},
    ],
    "bbox": [-151.2, 38.8245, 2.14, -122.8215, 61.1, 45.3],
}

# Open-Meteo forecast API with current=… (https://open-meteo.com/en/docs), Berlin local time.
OPEN_METEO = {
    "latitude": 52.52, "longitude": 13.419998, "generationtime_ms": 0.0579357,
    "utc_offset_seconds": 3600, "timezone": "Europe/Berlin", "timezone_abbreviation": "GMT+1",
    "elevation": 38.0,
    "current_units": {"time": "iso8601", "interval": "seconds", "temperature_2m": "°C",
                      "relative_humidity_2m": "%", "wind_speed_10m": "km/h",
                      "wind_direction_10m": "°", "precipitation": "mm"},
    "current": {"time": "2026-11-26T23:45", "interval": 900, "temperature_2m": 3.4,
                "relative_humidity_2m": 87, "wind_speed_10m": 11.2, "wind_direction_10m": 245,
                "precipitation": 0.0},
}

# Coinbase spot price (GET /v2/prices/BTC-USD/spot).
COINBASE = {"data": {"amount": "91234.57", "base": "BTC", "currency": "USD"}}


def build(preset: str, url: str, **params) -> HttpSource:
    src = build_source(Settings({"source": {"type": preset, "url": url, **params}}))
    assert isinstance(src, HttpSource) and src.preset == preset
    return src


def test_usgs_feed_becomes_one_record_per_feature(server):
    """USGS features map to records with UTC times, float magnitude (null kept) and coordinates."""
    server.route("/all_hour.geojson", json_reply(USGS_FEED))
    src = build("usgs-earthquakes", server.url("/all_hour.geojson"))
    records = src.fetch()
    assert records[0] == {
        "id": "nc75012345", "time": "2025-11-26T22:50:12.340Z",
        "updated": "2025-11-26T22:52:05.120Z", "mag": 1.62, "mag_type": "md",
        "place": "8 km NW of The Geysers, CA", "type": "earthquake", "status": "automatic",
        "net": "nc", "tsunami": 0, "sig": 40, "lon": -122.8215, "lat": 38.8245, "depth_km": 2.14,
        "url": "https://earthquake.usgs.gov/earthquakes/eventpage/nc75012345"}
    assert records[1]["mag"] is None and records[1]["depth_km"] == 45.3
    assert src.hints.time_field == "time" and src.hints.value_field == "mag"
    assert src.min_interval == 60.0 and src.schema["key"] == "id"


def test_usgs_polls_overlap_and_ids_repeat(server):
    """Two polls of the hour feed return the same ids (de-duplication is the pipeline's job)."""
    server.route("/all_hour.geojson", json_reply(USGS_FEED))
    src = build("usgs-earthquakes", server.url("/all_hour.geojson"))
    first, second = src.fetch(), src.fetch()
    assert [r["id"] for r in first] == [r["id"] for r in second]


def test_usgs_snapshot_span_follows_the_feed_not_the_field_map():
    """The USGS preset tells the pipeline how much every response repeats: an hour for
    all_hour, a day for all_day, also when the user redefines a field; others repeat nothing."""
    hour = build("usgs-earthquakes", "http://127.0.0.1:9/all_hour.geojson")
    assert hour.hints.snapshot_span == 3600.0
    day = build("usgs-earthquakes", "http://127.0.0.1:9/summary/2.5_day.geojson",
                fields={"mag": "properties.mag:str"})
    assert day.hints.snapshot_span == 86_400.0 and day.schema is None  # hints rebuilt
    assert build("usgs-earthquakes", "http://127.0.0.1:9/copy.json").hints.snapshot_span == 3600
    assert build("coinbase-spot", "http://127.0.0.1:9/spot").hints.snapshot_span == 0.0


def test_open_meteo_current_is_one_record_in_utc(server):
    """Open-Meteo's current block is one record; local time is converted with utc_offset_seconds."""
    server.route("/v1/forecast", json_reply(OPEN_METEO))
    src = build("open-meteo", server.url("/v1/forecast"), params={"latitude": "59.91"})
    assert src.fetch() == [{
        "time": "2026-11-26T22:45:00.000Z", "interval_s": 900, "temperature": 3.4,
        "humidity": 87.0, "wind_speed": 11.2, "wind_direction": 245.0, "precipitation": 0.0,
        "latitude": 52.52, "longitude": 13.419998, "timezone": "Europe/Berlin"}]
    query = server.hits("/v1/forecast")[0].path
    assert "latitude=59.91" in query and "longitude=13.41" in query
    assert "current=temperature_2m%2Crelative_humidity_2m" in query


def test_coinbase_spot_price_text_becomes_a_float(server):
    """Coinbase's amount (text) becomes a float price stamped with the poll time."""
    server.route("/v2/prices/BTC-USD/spot", json_reply(COINBASE))
    src = build("coinbase-spot", server.url("/v2/prices/BTC-USD/spot"))
    src.clock = lambda: 1_764_198_000.25
    assert src.fetch() == [{"price": 91234.57, "base": "BTC", "currency": "USD",
                            "time": "2025-11-26T23:00:00.250Z"}]


@pytest.mark.parametrize("name, payload", [("usgs-earthquakes", USGS_FEED),
                                           ("open-meteo", OPEN_METEO),
                                           ("coinbase-spot", COINBASE)])
def test_preset_schema_accepts_its_own_records(server, name, payload):
    """Each preset's schema (issue-4 format) validates and accepts the records it produces."""
    schema_mod = pytest.importorskip("streamdash.pipeline.schema")
    validator_mod = pytest.importorskip("streamdash.pipeline.validator")
    server.route("/p", json_reply(payload))
    src = build(name, server.url("/p"))
    schema = schema_mod.schema_from_settings(src.schema)
    records = src.fetch()
    valid, _times, invalid, _nulls = validator_mod.Validator(schema).run(records)
    assert invalid == [] and valid == records


def test_presets_are_registered_and_point_at_the_real_apis():
    """Every preset is a registered source with an https URL, records path and field map."""
    for name, preset in PRESETS.items():
        assert name in SOURCES
        assert preset.url.startswith("https://") and preset.fields and preset.min_interval > 0
    assert PRESETS["usgs-earthquakes"].url.endswith("/summary/all_hour.geojson")
    assert PRESETS["coinbase-spot"].url.endswith("/v2/prices/BTC-USD/spot")


def test_user_settings_override_and_merge_with_the_preset():
    """url/records_path replace the preset's; params and fields merge name by name."""
    merged = preset_params(PRESETS["open-meteo"], {"url": "http://127.0.0.1:1/x",
                                                   "params": {"latitude": "1"},
                                                   "fields": {"extra": "is_day:int"}})
    assert merged["url"] == "http://127.0.0.1:1/x"
    assert merged["params"]["latitude"] == "1" and merged["params"]["longitude"] == "13.41"
    assert merged["fields"]["extra"] == "is_day:int" and "temperature" in merged["fields"]


def test_redefining_a_preset_field_drops_its_schema_and_hints():
    """When the user redefines a preset field, the preset's schema no longer applies."""
    src = build_source(Settings({"source": {"type": "coinbase-spot",
                                            "fields": {"price": "amount:str"}}}))
    assert src.schema is None and src.hints.value_field == "value"
    added = build_source(Settings({"source": {"type": "coinbase-spot",
                                              "fields": {"pair": "$.data.base:str"}}}))
    assert added.schema is not None and added.hints.value_field == "price"


def test_preset_settings_are_validated():
    """A bad override is a ConfigError naming the key."""
    with pytest.raises(ConfigError) as err:
        build_source(Settings({"source": {"type": "usgs-earthquakes", "max_tries": 0}}))
    assert err.value.key == "source.max_tries"
