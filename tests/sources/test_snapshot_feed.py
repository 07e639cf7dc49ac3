"""A polled snapshot feed (USGS ``all_hour``) through a real Runtime over loopback HTTP: every
distinct quake is accepted exactly once, repeats are duplicates, nothing is late."""

from __future__ import annotations

from collections import Counter

from streamdash.config import Settings
from streamdash.runtime import Runtime
from tests.feeds import usgs_quake
from tests.helpers import wait_until, within
from tests.httpserver import json_reply

#: 2025-11-26T22:00:00Z in ms; quake i happens at T0 + i · 5 min.
T0_MS = 1_764_194_400_000
STEP_MS = 300_000
PER_FEED = 12          # the feed holds 12 quakes spread over its 60 minutes
POLLS = 6              # feeds 0..5 differ; the last one is then served unchanged
INTERVAL = 0.1
UPDATED_QUAKE = 8      # its 'updated' time changes from one poll to the next


def quake(i: int, poll: int) -> dict:
    """Quake ``i`` as the feed shows it at poll ``poll`` (one quake's 'updated' moves)."""
    t = T0_MS + i * STEP_MS
    return usgs_quake(i, t, t + 120_000 + (poll * 60_000 if i == UPDATED_QUAKE else 0))


def feed(poll: int) -> dict:
    """The all_hour feed at poll ``poll``: quakes poll … poll+11, newest first (a new quake
    on top and the oldest gone at every poll)."""
    newest = poll + PER_FEED - 1
    features = [quake(i, poll) for i in range(newest, poll - 1, -1)]
    generated = T0_MS + newest * STEP_MS + 30_000
    return {"type": "FeatureCollection",
            "metadata": {"generated": generated, "status": 200, "api": "1.14.1",
                         "count": len(features), "title": "USGS All Earthquakes, Past Hour",
                         "url": "https://earthquake.usgs.gov/earthquakes/feed/v1.0/summary/"
                                "all_hour.geojson"},
            "features": features, "bbox": [-150.0, 61.0, 5.0, -148.0, 61.2, 25.0]}


def run_feed(server, transforms=None) -> Runtime:
    """Serve POLLS changing feeds then the last one forever; run until the repeats arrive."""
    server.route("/all_hour.geojson", *[json_reply(feed(p)) for p in range(POLLS)])
    source = {"type": "usgs-earthquakes", "url": server.url("/all_hour.geojson"),
              "interval": INTERVAL, "min_interval": 0}
    rt = Runtime(Settings({"source": source} if transforms is None
                          else {"source": source, "transforms": transforms}))
    want = (POLLS + 2) * PER_FEED        # every feed, then the last one twice more
    with rt:
        wait_until(lambda: rt.counts()["in"] >= want, timeout=within(*[INTERVAL] * (POLLS + 2)),
                   what=f"{want} records processed")
    return rt


def test_usgs_snapshot_polls_accept_every_quake_once_and_count_repeats(server):
    """Polling a changing all_hour feed (newest first): each distinct quake is accepted once,
    none is late, every repeat (an updated quake included) is a duplicate."""
    rt = run_feed(server)
    counts = rt.counts()
    distinct = POLLS - 1 + PER_FEED
    ids = Counter(rec["id"] for _, rec in rt.buffer.snapshot())
    assert len(ids) == distinct and set(ids.values()) == {1}
    assert counts["accepted"] == distinct and counts["late"] == 0 and rt.late.total == 0
    assert counts["rejected"] == 0
    assert counts["duplicate"] == counts["in"] - distinct
    assert ids[quake(UPDATED_QUAKE, 0)["id"]] == 1


def test_dedup_on_id_and_updated_keeps_each_update_of_a_quake(server):
    """With dedup keyed on [id, updated] a quake whose updated time changes is accepted again
    at each change; the others still once; still nothing late."""
    rt = run_feed(server, transforms=[{"dedup": {"key": ["id", "updated"]}}, "late"])
    ids = Counter(rec["id"] for _, rec in rt.buffer.snapshot())
    updated_id = quake(UPDATED_QUAKE, 0)["id"]
    # the quake is in the feed from poll 0 to poll UPDATED_QUAKE (then it falls off)
    assert ids[updated_id] == min(POLLS, UPDATED_QUAKE + 1)
    assert all(n == 1 for i, n in ids.items() if i != updated_id)
    assert rt.counts()["late"] == 0
