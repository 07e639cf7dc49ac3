"""A deterministic simulated sensor stream: the offline default source.

Each fetch returns ``batch_size`` readings spread over the last ``spread`` seconds of the
injected clock, from ``sensors`` sensors with realistic temperature and humidity. Faults are
injected at configurable rates so that every data-quality feature can be shown offline:
nulls, exact duplicates, late events (60–180 s old), invalid records and outliers.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from ..models import utc_iso
from ..params import Float, Int, Params
from .base import FieldHints, Source

FAULTS = ("null_rate", "duplicate_rate", "late_rate", "invalid_rate", "outlier_rate")
DEFAULT_RATES = {"null_rate": 0.01, "duplicate_rate": 0.01, "late_rate": 0.01,
                 "invalid_rate": 0.005, "outlier_rate": 0.005}


Rate = Annotated[Float, Field(ge=0.0, le=1.0)]


class SimulatorParams(Params):
    """Settings of ``source.type: simulated``: seed, size and fault rates (probabilities)."""

    seed: Int = 42
    sensors: Annotated[Int, Field(ge=1, le=10_000)] = 5
    batch_size: Annotated[Int, Field(ge=1, le=1_000_000)] = 20
    count: Int | None = Field(None, ge=1)  # the bound outside the Optional, to be named
    null_rate: Rate = DEFAULT_RATES["null_rate"]
    duplicate_rate: Rate = DEFAULT_RATES["duplicate_rate"]
    late_rate: Rate = DEFAULT_RATES["late_rate"]
    invalid_rate: Rate = DEFAULT_RATES["invalid_rate"]
    outlier_rate: Rate = DEFAULT_RATES["outlier_rate"]


class SimulatedSource(Source):
    """Simulated sensors; same ``seed`` and clock → byte-identical records.

    ``count`` bounds the total number of records produced (``None`` = endless). Fault rates can
    be changed while running with :meth:`set_rates` (used to demonstrate alerts).
    """

    kind = "simulated"
    Params = SimulatorParams
    hints = FieldHints(value_field="temperature", key_field="sensor", time_field="ts",
                       required=("id", "sensor", "ts"), numeric_fields=("temperature", "humidity"))

    def __init__(self, name: str = "", *, seed: int = 42, sensors: int = 5, batch_size: int = 20,
                 spread: float = 5.0, count: int | None = None,
                 clock: Callable[[], float] = time.time, **rates: float):
        super().__init__(name or "simulator")
        unknown = set(rates) - set(FAULTS)
        if unknown:
            raise TypeError(f"unknown fault rate(s): {', '.join(sorted(unknown))}")
        self.rng = random.Random(seed)
        self.sensors = [f"sensor-{i + 1:02d}" for i in range(sensors)]
        self.batch_size = batch_size
        self.spread = spread
        self.remaining = count
        self.clock = clock
        self.rates = {**DEFAULT_RATES, **rates}
        # Per-sensor baselines so series look distinct and plausible.
        self._base = {s: (18.0 + 2.5 * i % 12, 40.0 + 7 * i % 35)
                      for i, s in enumerate(self.sensors)}
        self._recent: deque[dict[str, Any]] = deque(maxlen=200)
        self._next_id = 0

    @classmethod
    def from_params(cls, name: str, params: SimulatorParams, settings: Any) -> SimulatedSource:
        """The simulator of ``source.type: simulated``: readings spread over ``interval``."""
        return cls(name, spread=settings.interval, clock=time.time, **dict(params))

    def set_rates(self, **rates: float) -> None:
        """Change fault rates from now on (e.g. ``set_rates(null_rate=0.5)``)."""
        unknown = set(rates) - set(FAULTS)
        if unknown:
            raise TypeError(f"unknown fault rate(s): {', '.join(sorted(unknown))}")
        self.rates = {**self.rates, **rates}

    def fetch(self) -> list[dict[str, Any]]:
        """The next batch of readings."""
        n = self.batch_size if self.remaining is None else min(self.batch_size, self.remaining)
        if self.remaining is not None:
            self.remaining -= n
        now = self.clock()
        return [self._reading(now - self.spread * (n - 1 - i) / max(n, 1)) for i in range(n)]

    def _reading(self, event_time: float) -> dict[str, Any]:
        rng, rates = self.rng, self.rates
        r = rng.random()
        edge = rates["duplicate_rate"]
        if r < edge and self._recent:
            return dict(rng.choice(self._recent))
        sensor = rng.choice(self.sensors)
        temp_base, hum_base = self._base[sensor]
        self._next_id += 1
        rec: dict[str, Any] = {
            "id": f"{sensor}-{self._next_id:08d}",
            "sensor": sensor,
            "ts": utc_iso(event_time),
            "temperature": round(temp_base + rng.gauss(0, 0.8), 2),
            "humidity": round(min(100.0, max(0.0, hum_base + rng.gauss(0, 2.0))), 1),
            "unit": "C",
        }
        for fault in ("null_rate", "late_rate", "invalid_rate", "outlier_rate"):
            lo, edge = edge, edge + rates[fault]
            if lo <= r < edge:
                self._inject(fault, rec, event_time)
                break
        self._recent.append(rec)
        return rec

    def _inject(self, fault: str, rec: dict[str, Any], event_time: float) -> None:
        rng = self.rng
        if fault == "null_rate":
            rec[rng.choice(("temperature", "humidity"))] = None
        elif fault == "late_rate":
            rec["ts"] = utc_iso(event_time - rng.uniform(60, 180))
        elif fault == "outlier_rate":
            jump = rng.choice((-1, 1)) * rng.uniform(25, 40)
            rec["temperature"] = round(rec["temperature"] + jump, 2)
        else:
            kind = rng.randrange(3)
            if kind == 0:
                rec["temperature"] = "abc"
            elif kind == 1:
                del rec["sensor"]
            else:
                rec["ts"] = "not-a-time"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "sensors": len(self.sensors), "batch_size": self.batch_size,
                "rates": dict(self.rates)}
