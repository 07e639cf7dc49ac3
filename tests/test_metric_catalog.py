"""Tests for streamdash.metric_catalog: every metric name declared once, read by every user."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import streamdash
from streamdash import metric_catalog as catalog
from streamdash.config import Settings
from streamdash.quality.rule_params import parse_rule
from streamdash.quality.rules import METRICS, known_metric
from streamdash.quality.window import QualityWindow, pick
from streamdash.reporter import SNAPSHOT_FIELDS, derive
from streamdash.runtime import Runtime
from streamdash.server.prometheus import build_registry
from streamdash.testing import ListSource

PACKAGE = Path(streamdash.__file__).parent
T0 = 1_700_000_000.0


def test_names_are_unique_within_each_table():
    """No table declares a name twice (a name may be a counter and a snapshot field)."""
    for table in (catalog.PIPELINE, catalog.HEALTH, catalog.SNAPSHOT, catalog.QUALITY):
        names = [m.name for m in table]
        assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert not {m.name for m in catalog.PIPELINE} & {m.name for m in catalog.HEALTH}


def test_every_declaration_has_a_kind_unit_and_one_line_help():
    """Each entry says what it is: a known kind, and a help text without line breaks."""
    kinds = {"counter", "gauge", "histogram", "info", "snapshot"}
    for m in (*catalog.PIPELINE, *catalog.HEALTH, *catalog.SNAPSHOT):
        assert m.kind in kinds and m.help and "\n" not in m.help, m
    for q in catalog.QUALITY:
        assert q.unit and q.help and "\n" not in q.help and callable(q.compute), q


def test_the_window_samples_declared_counters_only():
    """Every counter the quality window samples is a declared pipeline counter."""
    counters = {m.name for m in catalog.PIPELINE if m.kind == "counter"}
    assert set(catalog.SAMPLED_COUNTERS) <= counters
    assert set(catalog.PROCESSED) <= set(catalog.SAMPLED_COUNTERS)


def test_rules_read_the_quality_table():
    """The alert-rule metric names are exactly the catalog's quality metrics, and each parses."""
    assert dict(METRICS) == {q.name: q.help for q in catalog.QUALITY}
    for q in catalog.QUALITY:
        assert known_metric(q.name)
        assert parse_rule({"name": "r", "metric": q.name, "op": ">", "threshold": 1}, "r")
    assert known_metric("null_rate.temp") and not known_metric("null_rate.")
    assert not known_metric("nope")


def test_the_window_computes_every_quality_metric():
    """One evaluation yields a value (or no data) for every declared quality metric."""
    w = QualityWindow(window=10, baseline=0)
    w.add(T0, pick({}), {})
    w.add(T0 + 10, pick({"records_in": 10, "records_accepted": 10, "fetches": 1}),
          {"accepted": 10, "null_records": 1})
    out = w.compute(T0 + 10, watch_since=T0)
    assert set(out) == set(METRICS)
    assert out["null_rate"] == 0.1 and out["throughput"] == 1.0 and out["records"] == 10


def test_a_formula_reading_an_undeclared_counter_fails_loudly():
    """A quality formula can only read the sampled counters (a typo is no silent zero)."""
    w = QualityWindow(window=10, baseline=0)
    w.add(T0, pick({}), {})
    w.add(T0 + 1, pick({}), {})
    bad = catalog.QualityMetric("bad", "ratio", "reads a typo", lambda s: s.delta("recods_in"))
    span = _span(w, T0 + 1)
    with pytest.raises(KeyError, match="recods_in"):
        bad.compute(span)


def _span(window: QualityWindow, now: float):
    from streamdash.quality.window import _Span

    new = window._samples[-1]
    return _Span(now, new, window._at(now - window.window), None, None, None, None)


def test_snapshot_fields_are_the_catalog_table_and_derive_fills_them():
    """reporter.SNAPSHOT_FIELDS is the catalog's snapshot table, and derive gives each field."""
    assert dict(SNAPSHOT_FIELDS) == {m.name: m.help for m in catalog.SNAPSHOT}
    empty = {"counters": {}, "gauges": {}, "histograms": {}}
    assert set(derive({}, empty, 1.0)) == set(SNAPSHOT_FIELDS)


def _metric_names_in_source() -> set[str]:
    """Every literal (or f-string prefix + '*') name the package passes to a Metrics method."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if "bench" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("inc", "set_gauge", "observe", "add_many")
                    and "metrics" in ast.unparse(node.func.value) and node.args):
                continue
            arg = node.args[0]
            keys = arg.keys if isinstance(arg, ast.Dict) else [arg]
            for key in keys:
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    names.add(key.value)
                elif isinstance(key, ast.JoinedStr) and isinstance(key.values[0], ast.Constant):
                    names.add(key.values[0].value + "*")
    return names


def test_every_name_the_product_counts_is_declared():
    """Each counter, gauge or histogram name written anywhere in the package has a declaration
    (an f-string name: at least one declared name with its prefix)."""
    declared = {m.name for m in catalog.PIPELINE}
    found = _metric_names_in_source()
    assert {"records_in", "queue_full_*", "alert_transitions_*"} <= found
    for name in found:
        if name.endswith("*"):
            assert any(d.startswith(name[:-1]) for d in declared), name
        else:
            assert name in declared, name


def test_prometheus_exports_declared_kinds_and_help():
    """A scrape uses each declared name's kind and help; an undeclared name gets a generic one."""
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    runtime = Runtime(Settings(), ListSource([]))
    runtime.metrics.inc("records_in", 3)
    runtime.metrics.set_gauge("queue_fill", 0.5)
    runtime.metrics.inc("not_declared_anywhere")
    text = generate_latest(build_registry(runtime)).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name, declared in catalog.EXPORTED.items():
        family = families.get(f"streamdash_{name}")
        if family is not None:
            assert family.type == declared.kind and family.documentation == declared.help, name
    assert families["streamdash_records_in"].type == "counter"
    assert families["streamdash_up"].documentation == "1 unless the pipeline is down."
    assert families["streamdash_not_declared_anywhere"].documentation == \
        "streamdash counter not_declared_anywhere."
