"""Patterns from settings run in linear time (RE2): a hostile value cannot freeze the process."""

from __future__ import annotations

import threading
import time

import pytest

from streamdash.errors import ConfigError
from streamdash.models import Batch
from streamdash.pipeline.processor import Pipeline
from streamdash.pipeline.regex import compile_pattern
from streamdash.pipeline.rules import BatchContext, Filter, conditions
from streamdash.pipeline.schema import schema_from_settings

#: The catastrophic case of issue 13: Python's ``re`` needs ~2^30 steps for it.
EVIL_PATTERN = "(a+)+$"
EVIL_VALUE = "a" * 30 + "b"
#: The stall a liveness probe may see (the issue's bound).
MAX_STALL = 0.1


class StallProbe:
    """A thread that ticks every millisecond and records the longest gap between ticks: the
    longest time another thread held the GIL (what a ``/health/live`` request would wait)."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last = time.perf_counter()
        while not self._stop.wait(0.001):
            now = time.perf_counter()
            self.longest = max(self.longest, now - last)
            last = now

    def __enter__(self) -> StallProbe:
        self._thread.start()
        time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def test_hostile_value_against_a_nested_quantifier_does_not_stall_a_probe():
    """Validating hostile values against ``(a+)+$`` finishes fast and no probe waits 100 ms."""
    schema = schema_from_settings({"fields": {"name": {"type": "str", "pattern": EVIL_PATTERN}}})
    pipeline = Pipeline(schema, [])
    # Many short hostile values and a few long ones (linear time: long values cost their length).
    records = [{"name": EVIL_VALUE} for _ in range(2000)] + \
        [{"name": "a" * 100_000 + "b"} for _ in range(5)]
    with StallProbe() as probe:
        began = time.perf_counter()
        result = pipeline.process(records, Batch(records, 0.0, "test"))
        took = time.perf_counter() - began
    assert len(result.rejected) == len(records)
    assert {r["rule"] for rej in result.rejected for r in rej.reasons} == {"pattern"}
    assert took < 5.0, f"validation took {took:.2f} s"
    assert probe.longest < MAX_STALL, f"a probe was stalled {probe.longest * 1000:.0f} ms"


def test_matches_filter_runs_a_nested_quantifier_in_linear_time():
    """The filter's ``matches`` operator is RE2 too: a hostile value is decided at once."""
    keep = Filter(conditions({"field": "name", "op": "matches", "value": EVIL_PATTERN}, "f"))
    with StallProbe() as probe:
        ok, _ = keep([{"name": EVIL_VALUE}] * 500 + [{"name": "aaa"}], [None] * 501,
                     BatchContext())
    assert ok == [{"name": "aaa"}]  # the hostile values do not match (they end in "b")
    assert probe.longest < MAX_STALL


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=a)a", r"(?<!x)y", "("])
def test_patterns_re2_cannot_run_in_linear_time_are_refused_at_config_time(pattern):
    """Backreferences, lookarounds and bad syntax are a ConfigError naming the setting."""
    with pytest.raises(ConfigError) as err:
        schema_from_settings({"fields": {"name": {"type": "str", "pattern": pattern}}})
    assert err.value.key == "schema.fields.name.pattern"
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="f.value"):
        conditions({"field": "name", "op": "matches", "value": pattern}, "f")


def test_compiled_pattern_matches_like_re():
    """Ordinary patterns keep their meaning: fullmatch anchors, search finds anywhere."""
    pat = compile_pattern("k", r"sensor-[0-9]+")
    assert pat.fullmatch("sensor-12") and not pat.fullmatch("sensor-12x")
    assert pat.search("my sensor-3 here")
