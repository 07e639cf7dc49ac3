"""Soak the USGS, Open-Meteo and Coinbase presets against loopback copies of their real shapes.

    python -m tests.soak_presets [--seconds 120] [--interval S]

Each preset runs in its own Runtime (the presets' own settings: USGS and Open-Meteo poll every
60 s, Coinbase every 5 s) against ``tests/feeds.py`` on 127.0.0.1, all three at once. Every
second the status (the one the header badge and ``/health`` show) is sampled. The report gives
per preset the polls, the record outcomes, every alert that fired and every status seen; the
exit status is 1 unless each preset had records, 0 late, no alert fired and status ``ok``
throughout. ``--interval`` overrides the presets' pace (``min_interval: 0``, the feed's
``Cache-Control`` ignored) for a quick run; ``tests/sources/test_preset_soak.py`` runs it so.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from typing import Any

from streamdash.config import Settings
from streamdash.quality.rule_params import OFF_FOR_SNAPSHOTS
from streamdash.runtime import Runtime
from streamdash.sources.presets import PRESETS as PRESET_SPECS
from tests.feeds import serve_presets
from tests.httpserver import ScriptedServer

PRESETS = ("usgs-earthquakes", "open-meteo", "coinbase-spot")
#: Rate rules whose default ``for`` (15 s) a quick run sets to 0, so a false alert shows within
#: seconds instead of hiding in a run shorter than ``for``.
RATE_RULES = ("null_rate_high", "duplicate_rate_high", "late_rate_high", "invalid_rate_high")


def settings_for(preset: str, url: str, interval: float | None) -> Settings:
    """The preset's own settings on ``url``; with ``interval``, a quick pace and instant rules
    (only those the preset has: naming a rule that is off by default turns it on)."""
    source: dict[str, Any] = {"type": preset, "url": url}
    values: dict[str, Any] = {"source": source}
    if interval is not None:
        source.update(interval=interval, min_interval=0, max_cache_age=0)
        snapshot = PRESET_SPECS[preset].hints.snapshot_span > 0
        # source_down's default threshold is three intervals (0.6 s at the quick pace of
        # 0.2 s): a loaded machine's scheduling stall fired it. The soak is about false rate
        # alerts; a source silent for 2 s (ten polls) still fires it.
        values["alerts"] = {"interval": 0.1, "rules": [
            {"name": n, "for": 0} for n in RATE_RULES
            if not (snapshot and n in OFF_FOR_SNAPSHOTS)] + [
            {"name": "source_down", "threshold": 2.0}]}
    return Settings(values)


def soak(seconds: float, interval: float | None = None,
         sample_every: float = 1.0) -> dict[str, dict[str, Any]]:
    """Run every preset for ``seconds`` at once; the report per preset (see the module doc).
    A quick run (``interval``) also makes a new quake every 10 intervals (12 in the feed)."""
    with ScriptedServer() as server:
        if interval is None:
            urls = serve_presets(server)
        else:
            urls = serve_presets(server, quake_every=10 * interval, span=120 * interval)
        runtimes = {p: Runtime(settings_for(p, urls[p], interval)) for p in PRESETS}
        statuses: dict[str, Counter[str]] = {p: Counter() for p in PRESETS}
        for rt in runtimes.values():
            rt.start()
        try:
            deadline = time.monotonic() + seconds
            stop = threading.Event()
            while not stop.wait(min(sample_every, max(0.0, deadline - time.monotonic()))):
                for p, rt in runtimes.items():
                    statuses[p][rt.status().state] += 1
                if time.monotonic() >= deadline:
                    break
        finally:
            for rt in runtimes.values():
                rt.stop()
        return {p: report(rt, statuses[p], len(server.hits(server_path(urls[p]))))
                for p, rt in runtimes.items()}


def server_path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def report(rt: Runtime, statuses: Counter[str], polls: int) -> dict[str, Any]:
    """One preset's outcome: counts, fired alerts, statuses seen, and whether it passed."""
    counts = rt.counts()
    fired = sorted({t["name"] for t in rt.monitor.history(None) if t.get("state") == "firing"})
    ok = counts["accepted"] > 0 and counts["late"] == 0 and not fired \
        and set(statuses) == {"ok"}
    return {"polls": polls, "interval_s": rt.fetch_interval(), **counts, "fired": fired,
            "statuses": dict(statuses), "ok": ok}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak_presets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--interval", type=float, default=None)
    args = parser.parse_args(argv)
    results = soak(args.seconds, args.interval)
    print(f"{'preset':18} {'polls':>5} {'every':>6} {'in':>5} {'accepted':>8} {'duplicate':>9} "
          f"{'late':>4}  alerts fired   statuses")
    for name, r in results.items():
        print(f"{name:18} {r['polls']:5d} {r['interval_s']:5g}s {r['in']:5d} {r['accepted']:8d} "
              f"{r['duplicate']:9d} {r['late']:4d}  {','.join(r['fired']) or 'none':14} "
              f"{r['statuses']}  {'PASS' if r['ok'] else 'FAIL'}")
    return 0 if all(r["ok"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
