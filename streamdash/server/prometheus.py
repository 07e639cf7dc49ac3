"""Prometheus exposition of a stream's metrics, on a registry owned by one app.

:class:`RuntimeCollector` reads a stream state's ``metrics.snapshot()`` and ``health()`` (see
:mod:`streamdash.state`: this process's runtime, or what a worker published) at each scrape
(no second copy of the numbers to keep in step) and yields counters, gauges and histograms
named ``streamdash_*``, with the kinds and help texts declared in
:mod:`streamdash.metric_catalog` (a name not declared there gets a generic help).
:func:`build_registry` puts it, with the process and platform collectors, on a fresh
``CollectorRegistry``: never the global one, so several apps in one process do not clash.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ..metric_catalog import EXPORTED, help_text
from ..state import DEFAULT_STREAM, as_stream

NAMESPACE = "streamdash"


def metric_name(name: str) -> str:
    """``streamdash_<name>`` with anything outside ``[a-zA-Z0-9_]`` replaced by ``_``."""
    return f"{NAMESPACE}_{re.sub(r'[^a-zA-Z0-9_]', '_', name)}"


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class Families:
    """Metric families by name, each labelled by ``stream`` (one sample per stream): several
    streams' counters of one name are one family, as Prometheus requires."""

    def __init__(self) -> None:
        self._found: dict[str, Metric] = {}

    def family(self, kind: str, name: str, help_: str, labels: tuple[str, ...] = ()) -> Metric:
        """The family ``name`` (made on first use, of ``kind`` with ``stream`` + ``labels``)."""
        if name not in self._found:
            self._found[name] = _FAMILIES[kind](name, help_, labels=["stream", *labels])
        return self._found[name]

    def add(self, kind: str, stream: str, name: str, value: Any, *, labels: tuple[str, ...] = (),
            values: tuple[str, ...] = ()) -> None:
        """One sample of metric ``name`` (a family of ``kind``) for ``stream``."""
        family = self.family(kind, metric_name(name), help_text(name, kind), labels)
        family.add_metric([stream, *values], value)

    def histogram(self, stream: str, name: str, hist: dict[str, Any]) -> None:
        """One stream's histogram ``name``."""
        family = self.family("histogram", metric_name(name), help_text(name, "histogram"))
        family.add_metric([stream], [(_le(bound), count) for bound, count in hist["buckets"]],
                          sum_value=hist["sum"])

    def all(self) -> list[Metric]:
        """Every family, in the order first seen."""
        return list(self._found.values())


class RuntimeCollector(Collector):
    """Yields the streams' counters, gauges, histograms and health at each scrape, each
    sample labelled with its ``stream``."""

    def __init__(self, state: Any):
        self.streams = {n: as_stream(s) for n, s in state.items()} \
            if isinstance(state, Mapping) else {DEFAULT_STREAM: as_stream(state)}

    def collect(self) -> Iterator[Metric]:
        families = Families()
        for name, stream in self.streams.items():
            snap = stream.metrics.snapshot()
            for metric, value in sorted(snap["counters"].items()):
                families.add("counter", name, metric, value)
            for metric, value in sorted(snap["gauges"].items()):
                if value is not None:
                    families.add("gauge", name, metric, value)
            for metric, hist in sorted(snap["histograms"].items()):
                families.histogram(name, metric, hist)
            self._health(families, name, stream)
        yield from families.all()

    @staticmethod
    def _health(families: Families, name: str, stream: Any) -> None:
        report = stream.health()
        comps = report["components"]

        def add(metric: str, value: Any, **kw: Any) -> None:  # a HEALTH name: its kind
            families.add(EXPORTED[metric].kind, name, metric, value, **kw)
        for status in ("ok", "degraded", "down"):
            add("health_status", 1.0 if report["status"] == status else 0.0,
                labels=("status",), values=(status,))
        add("up", 0.0 if report["status"] == "down" else 1.0)
        add("uptime_seconds", report["uptime_s"])
        source = comps.get("source", {})
        add("source_consecutive_failures", source.get("consecutive_failures") or 0)
        waiting = source.get("waiting_since")
        add("producer_waiting_seconds", max(0.0, stream.clock() - waiting) if waiting else 0.0)
        alerts = comps.get("alerts") or {}
        add("alerts_firing_now", alerts.get("firing") or 0)
        storage = comps.get("storage") or {}
        if storage.get("enabled"):
            add("storage_ok", 1.0 if storage.get("ok") else 0.0)
            for metric in ("written", "dropped", "errors", "rejected"):
                add(f"storage_{metric}", storage.get(metric, 0))
            add("storage_pending", storage.get("pending", 0)
                + storage.get("queue", {}).get("depth", 0))
        add("build", {"version": str(report.get("version", ""))})


_FAMILIES = MappingProxyType({"counter": CounterMetricFamily, "gauge": GaugeMetricFamily,
                              "info": InfoMetricFamily, "histogram": HistogramMetricFamily})


def build_registry(state: Any) -> CollectorRegistry:
    """A fresh registry with the collector of a stream state (a runtime is read in place) or
    of several by name, and the process/platform/GC collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RuntimeCollector(state))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry
