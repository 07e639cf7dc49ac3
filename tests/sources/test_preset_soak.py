"""The three public-API presets against loopback copies of their real, moving shapes: records
flow, nothing is late, no alert fires and the status (the badge's) stays ok throughout."""

from __future__ import annotations

from tests.soak_presets import PRESETS, soak

INTERVAL = 0.2   # the quick pace (the presets' own 60 s / 5 s: python -m tests.soak_presets)
POLLS = 20


def test_presets_soak_with_no_late_record_no_alert_and_a_green_status():
    """Every preset, polled 20 times with every rate rule firing at once: 0 late, 0 alerts,
    status ok at every sample; USGS accepts each quake once and counts repeats as duplicates."""
    results = soak(POLLS * INTERVAL, interval=INTERVAL, sample_every=INTERVAL)
    assert set(results) == set(PRESETS)
    for name, r in results.items():
        assert r["ok"], (name, r)
        assert r["in"] == r["accepted"] + r["duplicate"] and r["dropped"] == 0, (name, r)
    usgs = results["usgs-earthquakes"]
    assert usgs["accepted"] >= 12 and usgs["duplicate"] > usgs["accepted"]
    assert results["coinbase-spot"]["duplicate"] == 0
