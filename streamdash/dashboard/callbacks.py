"""Thin callbacks: read a runtime snapshot, call a pure function in ``figures``."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output

from ..runtime import Runtime
from . import figures
from .layout import KPI_IDS


class RateMeter:
    """Records/s between two successive reads of the accepted counter (per app)."""

    def __init__(self) -> None:
        self._last: tuple[float, float] | None = None

    def update(self, count: float, now: float) -> float | None:
        last, self._last = self._last, (count, now)
        if last is None or now <= last[1]:
            return None
        return (count - last[0]) / (now - last[1])


def register_callbacks(app: Dash, runtime: Runtime, value_field: str) -> None:
    """Wire the KPI cards and last-update time to the runtime."""
    meter = RateMeter()
    outputs = [Output(f"kpi-{kpi_id}", "children") for kpi_id, _ in KPI_IDS]

    @app.callback(*outputs, Output("last-update", "children"), Input("tick", "n_intervals"))
    def refresh(_n: Any) -> tuple[str, ...]:
        now = runtime.clock()
        counts = runtime.counts()
        recent = [r for _, r in runtime.buffer.after(0, limit=500)]
        rate = meter.update(counts["accepted"], runtime.monotonic())
        k = figures.kpis(recent, counts, value_field, rate,
                         runtime.metrics.gauge("last_stored_at"), now)
        return tuple(k[kpi_id] for kpi_id, _ in KPI_IDS) + (k["updated"],)
