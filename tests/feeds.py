"""Loopback copies of the three public APIs the presets read, in their real shapes, moving with
time as the real ones do (for the preset soak: ``tests/soak_presets.py``).

* USGS ``all_hour.geojson``: every quake of the past hour, newest first; a new quake every
  ``quake_every`` seconds, the oldest falls off, one quake's ``updated`` changes on every
  poll; an ``ETag`` per content and ``304 Not Modified`` for a matching ``If-None-Match``.
* Open-Meteo ``/v1/forecast?current=…``: the ``current`` block for the 15-minute slot of the
  wall clock (GMT, as the preset asks), values drifting slowly.
* Coinbase ``/v2/prices/BTC-USD/spot``: a price around 91,000 as a string, moving every poll.

Each feed takes its clock, so a test can drive it; event times follow the wall clock, as the
real feeds' do.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

import orjson

from tests.httpserver import Reply, Request, ScriptedServer, json_reply

PATHS = {"usgs-earthquakes": "/earthquakes/feed/v1.0/summary/all_hour.geojson",
         "open-meteo": "/v1/forecast",
         "coinbase-spot": "/v2/prices/BTC-USD/spot"}


def usgs_quake(i: int, t_ms: int, updated_ms: int) -> dict:
    """One GeoJSON feature of the summary feed, every property present as in the real one."""
    net, code = ("ak", f"0251{i:04d}") if i % 3 else ("nc", f"7501{i:04d}")
    mag = round(0.8 + (i % 7) * 0.35, 2)
    return {
        "type": "Feature",
        "properties": {
            "mag": mag, "place": f"{10 + i % 40} km NW of Somewhere, {net.upper()}",
            "time": t_ms, "updated": updated_ms, "tz": None,
            "url": f"https://earthquake.usgs.gov/earthquakes/eventpage/{net}{code}",
            "detail": f"https://earthquake.usgs.gov/fdsnws/event/1/query?eventid={net}{code}"
                      "&format=geojson",
            "felt": None, "cdi": None, "mmi": None, "alert": None,
            "status": "reviewed" if i % 2 else "automatic", "tsunami": 0,
            "sig": int(mag * 25), "net": net, "code": code, "ids": f",{net}{code},",
            "sources": f",{net},", "types": ",origin,phase-data,", "nst": 12 + i % 30,
            "dmin": 0.05, "rms": 0.21, "gap": 80, "magType": "ml", "type": "earthquake",
            "title": f"M {mag} - {10 + i % 40} km NW of Somewhere"},
        "geometry": {"type": "Point",
                     "coordinates": [-150.0 + (i % 50) / 10, 61.0 + (i % 50) / 100, 5.0 + i % 30]},
        "id": f"{net}{code}",
    }


class UsgsAllHour:
    """The ``all_hour`` feed at the clock's time: quakes ``quake_every`` seconds apart over
    the past hour, newest first."""

    def __init__(self, clock: Callable[[], float] = time.time, quake_every: float = 300.0,
                 span: float = 3600.0):
        self.clock, self.every, self.span = clock, quake_every, span
        self.polls = 0
        self._lock = threading.Lock()

    def document(self) -> dict:
        with self._lock:
            self.polls += 1
            poll = self.polls
        now = self.clock()
        newest = int(now // self.every)
        oldest = int((now - self.span) // self.every) + 1
        features = []
        for i in range(newest, oldest - 1, -1):
            t_ms = int(i * self.every * 1000)
            # The second-newest quake is revised on every poll (its 'updated' moves).
            updated = t_ms + 120_000 + (poll * 1000 if i == newest - 1 else 0)
            features.append(usgs_quake(i, t_ms, min(updated, int(now * 1000))))
        return {"type": "FeatureCollection",
                "metadata": {"generated": int(now * 1000), "status": 200, "api": "1.14.1",
                             "count": len(features), "title": "USGS All Earthquakes, Past Hour",
                             "url": "https://earthquake.usgs.gov/earthquakes/feed/v1.0/"
                                    "summary/all_hour.geojson"},
                "features": features, "bbox": [-150.0, 61.0, 5.0, -145.0, 61.5, 35.0]}

    def reply(self, req: Request) -> Reply:
        body = orjson.dumps(self.document())
        etag = f'"{hash(body) & 0xFFFFFFFF:08x}"'
        if req.headers.get("If-None-Match") == etag:
            return Reply(304, headers={"ETag": etag})
        return Reply(200, body, {"Content-Type": "application/json", "ETag": etag,
                                 "Cache-Control": "max-age=60, public"})


class OpenMeteoCurrent:
    """The forecast API's answer with ``current=…`` for the 15-minute slot of the clock."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock

    def reply(self, req: Request) -> Reply:
        now = self.clock()
        slot = int(now // 900) * 900
        local = datetime.fromtimestamp(slot, timezone.utc).strftime("%Y-%m-%dT%H:%M")
        drift = math.sin(slot / 3600)
        return json_reply({
            "latitude": 52.52, "longitude": 13.419998, "generationtime_ms": 0.0579357,
            "utc_offset_seconds": 0, "timezone": "GMT", "timezone_abbreviation": "GMT",
            "elevation": 38.0,
            "current_units": {"time": "iso8601", "interval": "seconds", "temperature_2m": "°C",
                              "relative_humidity_2m": "%", "wind_speed_10m": "km/h",
                              "wind_direction_10m": "°", "precipitation": "mm"},
            "current": {"time": local, "interval": 900,
                        "temperature_2m": round(3.4 + 2 * drift, 1),
                        "relative_humidity_2m": 87, "wind_speed_10m": round(11.2 + drift, 1),
                        "wind_direction_10m": 245, "precipitation": 0.0}})


class CoinbaseSpot:
    """The spot price: a string amount around 91,000 that moves on every poll."""

    def __init__(self) -> None:
        self.polls = 0
        self._lock = threading.Lock()

    def reply(self, req: Request) -> Reply:
        with self._lock:
            self.polls += 1
            n = self.polls
        amount = 91_234.57 + 150 * math.sin(n / 7) + (n % 5) * 3.21
        return json_reply({"data": {"amount": f"{amount:.2f}", "base": "BTC",
                                    "currency": "USD"}})


def serve_presets(server: ScriptedServer, clock: Callable[[], float] = time.time,
                  quake_every: float = 300.0, span: float = 3600.0) -> dict[str, str]:
    """Route the three feeds on ``server``; returns each preset's URL there. ``quake_every``
    and ``span`` shrink the USGS feed's clock for a quick run (12 quakes a span either way)."""
    feeds = {"usgs-earthquakes": UsgsAllHour(clock, quake_every, span),
             "open-meteo": OpenMeteoCurrent(clock), "coinbase-spot": CoinbaseSpot()}
    for name, feed in feeds.items():
        server.route(PATHS[name], feed.reply)
    return {name: server.url(PATHS[name]) for name in feeds}
