"""One measured run of the configured pipeline over a JSON Lines workload.

:func:`run_pipeline` builds the real processor from settings (the contract pipeline,
:data:`BENCH_SETTINGS`, unless others are given) exactly as the runtime does, feeds a real
:class:`~streamdash.pipeline.workers.Consumer` batch by batch and returns the totals the
contract checks, records/s, records per CPU second and the batch latencies. Counting the
contract's ``null`` total is the only instrumentation added to the pipeline (:class:`_NullCounting`,
needed only without a window on the value field). The command and the rounds live in
:mod:`.pipeline`.
"""

from __future__ import annotations

import gc
import queue
import time
from operator import itemgetter
from typing import Any

from .pipeline_measure import batch_percentiles, line_batches

#: The contract pipeline, as a user would write it in YAML (see docs/benchmarks.md).
BENCH_SETTINGS: dict[str, Any] = {
    "schema": {
        "key": "id",
        "event_time": "ts",
        "fields": {
            "id": "str",
            "sensor": "str",
            "ts": "timestamp",
            "value": {"type": "float", "nullable": True},
            "unit": {"type": "str", "allowed": ["C", "F"]},
        },
    },
    "transforms": [
        {"dedup": {"key": "id"}},
        {"convert": {"field": "value", "unit_field": "unit", "to": "C"}},
        {"late": {"lateness": 30, "advance": "record"}},  # CONTRACT.md: per record
        {"window": {"kind": "tumbling", "size": 10, "key": "sensor", "field": "value"}},
    ],
}


def run_pipeline(path: str, settings: Any = None, batch_size: int = 1000,
                 raw: bool = True, tune_gc: bool = False, typed: bool = True) -> dict[str, Any]:
    """Run the configured pipeline over ``path``; the totals and the measured figures.

    With ``raw`` the batches hold the raw lines, as a JSON Lines source delivers them, and the
    processor decodes them (in cache-sized chunks); otherwise they are decoded first. With
    ``tune_gc`` the garbage collector is set up after the pipeline is built, as ``streamdash
    run`` does (:func:`~streamdash.gc_tuning.tune_for_streaming`); the thresholds are restored
    at the end. ``typed=False`` decodes the raw lines with ``orjson`` only, not the schema's
    typed decoder (:mod:`streamdash.pipeline.typed`), to measure what that decoder brings.
    """
    from ..config import Settings
    from ..events import EventBus
    from ..metrics import Metrics
    from ..models import Batch
    from ..pipeline import build_processor
    from ..pipeline.jsonl import decode_lines
    from ..pipeline.workers import Consumer
    from ..sources.base import FieldHints
    from ..store.quarantine import Quarantine
    from ..store.recent import RecentLog
    from ..store.ring import RingBuffer

    settings = settings or Settings(BENCH_SETTINGS)
    hints = FieldHints(value_field="value", key_field="sensor", time_field="ts",
                       required=("id", "sensor", "ts"))
    events, metrics = EventBus(), Metrics()
    windows_log, late_log = RecentLog(2000), RecentLog(1000)
    events.subscribe("window", windows_log.extend_from)
    events.subscribe("late", late_log.extend_from)
    totals = {"windows": 0, "aggregated": 0, "null": 0}
    value_field = "value"

    count = itemgetter("count")

    def count_windows(items: list[dict[str, Any]]) -> None:
        totals["windows"] += len(items)
        totals["aggregated"] += sum(map(count, items))  # in C: a generator cost ~0.5 %

    events.subscribe("window", count_windows)
    processor = build_processor(settings, hints, publish=events.publish, typed=typed)
    window = _value_window(processor, value_field)
    counted = processor if window is not None else _NullCounting(processor, value_field, totals)
    consumer = Consumer(queue.Queue(), counted, RingBuffer(settings.get("buffer.capacity")),
                        Quarantine(events=events), metrics)
    previous_gc = None
    if tune_gc:
        from ..gc_tuning import tune_for_streaming

        previous_gc = tune_for_streaming()
    latencies: list[float] = []
    perf = time.perf_counter
    handle = consumer.handle
    lines_in = 0
    started, cpu_started = perf(), time.process_time()
    for lines in line_batches(path, batch_size):
        t0 = perf()
        records = lines if raw else decode_lines(lines)
        handle(Batch(records, time.time(), "bench", t0))
        latencies.append(perf() - t0)
        lines_in += len(lines)
    processor.flush()
    elapsed = perf() - started
    if window is not None:
        totals["null"] = window.skipped
    if previous_gc is not None:
        gc.set_threshold(*previous_gc)
    cpu = time.process_time() - cpu_started
    c = metrics.snapshot()["counters"]
    got = {"total": lines_in, "invalid": int(c.get("records_rejected", 0)),
           "dup": int(c.get("records_duplicate", 0)), "null": totals["null"],
           "late": int(c.get("records_late", 0)), "aggregated": totals["aggregated"],
           "windows": totals["windows"]}
    return {"totals": got, "elapsed_s": elapsed, "records_per_s": lines_in / elapsed,
            "cpu_s": cpu, "records_per_cpu_s": lines_in / cpu, **batch_percentiles(latencies),
            "accounting_ok": _identity(c, lines_in)}


class _NullCounting:
    """The processor, with the benchmark counting null values among each batch's accepted
    records as the batch leaves it (the contract's ``null`` total), for configurations
    without a window on the value field (with one, the window rule's ``skipped`` count is
    that total and costs nothing: see :func:`_value_window`).

    Instrumentation, not pipeline work, so it is done where it is cheapest: while the records
    are still in the CPU cache. As a batch listener (after the consumer has stored the batch,
    freeing the 1,000 oldest records of the ring) the same count cost ~5 % of the run.
    """

    def __init__(self, processor: Any, field: str, totals: dict[str, int]):
        from ..pipeline.rules import column

        self.processor = processor
        self.field = field
        self.totals = totals
        self.column = column

    def process(self, records: list[Any], batch: Any) -> Any:
        result = self.processor.process(records, batch)
        self.totals["null"] += self.column(result.accepted, self.field).count(None)
        return result

    def tick(self) -> int:
        return self.processor.tick()


def _value_window(processor: Any, field: str) -> Any:
    """The last rule of the chain when it is a window on ``field`` (its ``skipped`` count is
    then the number of accepted records whose value is null or not a number)."""
    from ..pipeline.rules import Windows

    rules = getattr(processor, "rules", [])
    last = rules[-1] if rules else None
    return last if isinstance(last, Windows) and last.field == field else None


def _identity(c: dict[str, float], lines_in: int) -> bool:
    """The accounting identity: every line read has exactly one outcome among the counters."""
    outcomes = sum(c.get(f"records_{o}", 0) for o in
                   ("accepted", "rejected", "duplicate", "filtered", "late"))
    return outcomes == lines_in
