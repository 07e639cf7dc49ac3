"""The contract's sensor workload generated in memory, and its semantics as a plain loop.

``generate`` replicates ``../shared/bench/gen_sensors.py`` (same seed, same draws, same bytes)
so tests do not depend on the shared folder; ``contract_totals`` is an independent, deliberately
simple implementation of CONTRACT.md's semantics, one record at a time.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import orjson

SEED = 20240601
T0 = datetime(2024, 6, 1, tzinfo=timezone.utc)
SENSORS = [f"sensor-{i:03d}" for i in range(100)]
BASE_C = [15.0 + (i % 17) for i in range(100)]
BAD_TS = ["not-a-time", "2024-13-45T25:61:00Z", "2024-06-01 00:00:00 UTC+99"]


def _iso(ms: int) -> str:
    dt = T0 + timedelta(milliseconds=ms)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def generate(n: int) -> list[bytes]:
    """The first ``n`` lines of the workload (without newlines)."""
    rng = random.Random(SEED)
    lines: list[bytes] = []
    for i in range(n):
        r = rng.random()
        if r < 0.01 and i > 0:
            back = rng.randint(1, min(1000, i))
            lines.append(lines[i - back])
            continue
        base = i * 10
        s = rng.randrange(100)
        unit = "F" if rng.random() < 0.3 else "C"
        c = BASE_C[s] + rng.gauss(0.0, 2.0)
        v = round(c * 9 / 5 + 32, 2) if unit == "F" else round(c, 2)
        rec = {"id": f"{rng.getrandbits(64):016x}", "sensor": SENSORS[s],
               "ts": None, "value": v, "unit": unit}
        if r < 0.02:
            rec["value"] = None
            rec["ts"] = _iso(base - rng.randint(0, 5000))
        elif r < 0.025:
            rec["ts"] = _iso(base - rng.randint(0, 5000))
            sub = rng.randrange(3)
            if sub == 0:
                rec["value"] = "abc"
            elif sub == 1:
                del rec["sensor"]
            else:
                rec["ts"] = rng.choice(BAD_TS)
        elif r < 0.03:
            rec["ts"] = _iso(base - rng.randint(60_000, 180_000))
        else:
            rec["ts"] = _iso(base - rng.randint(0, 5000))
        lines.append(orjson.dumps(rec))
    return lines


def _parse_ts(text: str) -> float | None:
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def contract_totals(lines: list[bytes]) -> dict:
    """CONTRACT.md's totals and closed windows (key, start → count, sum, min, max)."""
    totals = dict(total=0, invalid=0, dup=0, null=0, late=0, aggregated=0, windows=0)
    seen = set()
    max_ts = None
    open_w: dict = {}
    closed: dict = {}
    for line in lines:
        totals["total"] += 1
        try:
            r = orjson.loads(line)
        except orjson.JSONDecodeError:
            totals["invalid"] += 1
            continue
        ok = (isinstance(r, dict) and isinstance(r.get("id"), str)
              and isinstance(r.get("sensor"), str) and isinstance(r.get("ts"), str)
              and "value" in r and r.get("unit") in ("C", "F"))
        v = r.get("value") if ok else None
        if ok and v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            ok = False
        t = _parse_ts(r["ts"]) if ok else None
        if t is None:
            totals["invalid"] += 1
            continue
        if r["id"] in seen:
            totals["dup"] += 1
            continue
        seen.add(r["id"])
        if v is None:
            totals["null"] += 1
            continue
        if r["unit"] == "F":
            v = (v - 32) * 5 / 9
        if max_ts is None or t > max_ts:
            max_ts = t
        if t < max_ts - 30:
            totals["late"] += 1
            continue
        totals["aggregated"] += 1
        key = (r["sensor"], (t // 10) * 10)
        w = open_w.setdefault(key, [0, 0.0, v, v])
        w[0] += 1
        w[1] += v
        w[2] = min(w[2], v)
        w[3] = max(w[3], v)
        for k in [k for k in open_w if max_ts - 30 >= k[1] + 10]:
            closed[k] = open_w.pop(k)
    closed.update(open_w)
    totals["windows"] = len(closed)
    return {"totals": totals, "windows": closed}
