"""The configured processor: settings → chain, accounting, the contract workload, the runtime."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamdash.config import Settings
from streamdash.errors import ConfigError
from streamdash.models import Batch
from streamdash.pipeline import build_processor
from streamdash.pipeline.jsonl import decode_lines
from streamdash.pipeline.processor import split_rule
from streamdash.runtime import Runtime
from streamdash.sources.base import FieldHints
from streamdash.sources.simulator import SimulatedSource
from streamdash.testing import FakeClock, ListSource

from .workload import contract_totals, generate

CONTRACT = {
    "schema": {"key": "id", "event_time": "ts",
               "fields": {"id": "str", "sensor": "str", "ts": "timestamp",
                          "value": {"type": "float", "nullable": True},
                          "unit": {"type": "str", "allowed": ["C", "F"]}}},
    "transforms": [{"dedup": {"key": "id"}},
                   {"convert": {"field": "value", "unit_field": "unit", "to": "C"}},
                   {"late": {"lateness": 30, "advance": "record"}},  # CONTRACT.md
                   {"window": {"kind": "tumbling", "size": 10, "key": "sensor",
                               "field": "value"}}],
}
#: The same chain with the default late rule: the watermark moves between batches.
BATCH_WATERMARK = {**CONTRACT, "transforms": [
    {"late": {"lateness": 30}} if "late" in item else item for item in CONTRACT["transforms"]]}
HINTS = FieldHints(value_field="value", key_field="sensor", time_field="ts",
                   required=("id", "sensor", "ts"))


def batch(records):
    return Batch(records, 0.0, "test")


def outcomes(result):
    return len(result.accepted) + len(result.rejected) + sum(result.counts.values())


def test_contract_workload_matches_an_independent_loop():
    """At N = 20,000 the configured pipeline reproduces CONTRACT.md's totals and windows."""
    lines = generate(20_000)
    expected = contract_totals(lines)
    windows = []
    proc = build_processor(Settings(CONTRACT), HINTS,
                           publish=lambda t, p: windows.extend(p) if t == "window" else None)
    got = dict(total=0, invalid=0, dup=0, null=0, late=0)
    for i in range(0, len(lines), 1000):
        chunk = lines[i:i + 1000]
        result = proc.process(decode_lines(chunk), batch(chunk))
        assert outcomes(result) == len(chunk)
        got["total"] += len(chunk)
        got["invalid"] += len(result.rejected)
        got["dup"] += result.counts["duplicate"]
        got["late"] += result.counts["late"]
        got["null"] += sum(1 for r in result.accepted if r["value"] is None)
    proc.flush()
    got["aggregated"] = sum(w["count"] for w in windows)
    got["windows"] = len(windows)
    assert got == expected["totals"]
    assert got["invalid"] > 0 and got["dup"] > 0 and got["late"] > 0 and got["null"] > 0
    by_key = {(w["key"], w["start"]): w for w in windows}
    assert len(by_key) == len(windows)
    from streamdash.models import utc_iso
    for (sensor, start), (n, total, lo, hi) in expected["windows"].items():
        w = by_key[(sensor, utc_iso(start))]
        assert (w["count"], w["min"], w["max"]) == (n, lo, hi)
        assert w["mean"] == pytest.approx(total / n)


def run_both(cfg, batches):
    """Results of the fused and the batch-by-batch pipeline over the same batches."""
    out = []
    for fuse in (True, False):
        events = []
        proc = build_processor(Settings(cfg), HINTS, fuse=fuse, clock=lambda: 1_764_198_000.0,
                               publish=lambda t, p, events=events: events.append((t, p)))
        results = []
        for records in batches:
            copies = [dict(r) if isinstance(r, dict) else r for r in records]
            r = proc.process(copies, batch(copies))
            results.append((r.accepted, [(x.record, x.reasons) for x in r.rejected],
                            dict(r.counts), r.nulls))
        proc.flush()
        out.append((results, events, proc.stats()))
    return out


def test_fused_loop_decides_exactly_like_the_staged_rules():
    """Fusing rules into the validator loop changes nothing: same records, counts, windows."""
    lines = generate(6000)
    batches = [decode_lines(lines[i:i + 700]) for i in range(0, len(lines), 700)]
    fused, staged = run_both(CONTRACT, batches)
    assert fused == staged
    proc = build_processor(Settings(CONTRACT), HINTS)
    assert [r.name for r in proc.validator.fused] == ["dedup", "convert", "late", "window"]
    assert proc.staged == []


def flat(events):
    """(topic, item) pairs of published events, whatever the grouping into payloads."""
    return [(topic, item) for topic, payload in events for item in payload]


def test_fused_chunked_lines_decide_like_the_staged_rules_with_the_batch_watermark():
    """Raw lines, validated in chunks of 128 by the fused loop, give the staged results: every
    chunk of a batch is judged against the watermark known before the batch."""
    lines = generate(6000)
    batches = [lines[i:i + 700] for i in range(0, len(lines), 700)]
    (f_res, f_ev, f_stats), (s_res, s_ev, s_stats) = run_both(BATCH_WATERMARK, batches)
    assert f_res == s_res and f_stats == s_stats and flat(f_ev) == flat(s_ev)
    assert sum(r[2]["late"] for r in f_res) > 0


def test_batch_watermark_emits_each_window_once_and_accounts_for_every_record():
    """With the batch watermark no record lands in a window already emitted: each (key,
    start) is emitted once, and the windows hold every accepted non-null value."""
    lines = generate(20_000)
    windows = []
    proc = build_processor(Settings(BATCH_WATERMARK), HINTS,
                           publish=lambda t, p: windows.extend(p) if t == "window" else None)
    values = 0
    for i in range(0, len(lines), 1000):
        result = proc.process(decode_lines(lines[i:i + 1000]), batch(lines[i:i + 1000]))
        assert outcomes(result) == 1000
        values += sum(1 for r in result.accepted if r["value"] is not None)
    proc.flush()
    assert len({(w["key"], w["start"]) for w in windows}) == len(windows)
    assert sum(w["count"] for w in windows) == values
    assert {w["closed_by"] for w in windows} == {"watermark", "flush"}


@pytest.mark.parametrize("cfg", [CONTRACT, BATCH_WATERMARK], ids=["record", "batch"])
@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.fixed_dictionaries(
    {"id": st.sampled_from(["a", "b", "c", "d", "e"]), "sensor": st.sampled_from(["s1", "s2"]),
     "ts": st.integers(0, 300).map(lambda s: 1717200000 + s * 1.0),
     "value": st.one_of(st.none(), st.floats(-100, 100), st.just("x")),
     "unit": st.sampled_from(["C", "F"])}), max_size=25), max_size=5))
def test_fused_and_staged_agree_on_any_batches(cfg, batches):
    """For arbitrary batches the fused and staged pipelines give identical results (late rule
    advancing per record and per batch)."""
    fused, staged = run_both(cfg, batches)
    assert fused == staged


def test_quarantine_reasons_for_the_contract_faults():
    """Bad JSON, a string value, a missing sensor and a bad time each get their reason."""
    proc = build_processor(Settings(CONTRACT), HINTS)
    good = b'{"id":"1","sensor":"s","ts":"2024-06-01T00:00:00.000Z","value":1.0,"unit":"C"}'
    lines = [b"{not json", good.replace(b"1.0", b'"abc"'), good.replace(b'"sensor":"s",', b""),
             good.replace(b"2024-06-01T00:00:00.000Z", b"not-a-time")]
    result = proc.process(decode_lines(lines), batch(lines))
    reasons = [[(r["field"], r["rule"]) for r in rej.reasons] for rej in result.rejected]
    assert reasons == [[(None, "json")], [("value", "type")], [("sensor", "required")],
                       [("ts", "timestamp")]]
    assert result.rejected[0].record == "{not json" and result.rejected[0].source == "test"


record_st = st.one_of(
    st.fixed_dictionaries({"id": st.sampled_from(["a", "b", "c", "d"]),
                           "sensor": st.sampled_from(["s1", "s2"]),
                           "ts": st.integers(0, 200).map(lambda s: 1717200000 + s * 1.0),
                           "value": st.one_of(st.none(), st.floats(-100, 100)),
                           "unit": st.sampled_from(["C", "F"])}),
    st.dictionaries(st.sampled_from(["id", "sensor", "ts", "value", "unit"]),
                    st.one_of(st.none(), st.text(max_size=3), st.integers(), st.booleans())),
    st.text(max_size=5), st.integers(),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(record_st, max_size=30), max_size=6))
def test_accounting_identity_holds_for_any_batches(batches):
    """For any batches, in = accepted + invalid + duplicate + filtered + late, per batch and in
    total, and no record is both accepted and quarantined."""
    cfg = dict(CONTRACT, transforms=CONTRACT["transforms"][:1] + [
        {"filter": {"field": "sensor", "op": "ne", "value": "s2"}}] + CONTRACT["transforms"][1:])
    proc = build_processor(Settings(cfg), HINTS)
    total_in = total_out = 0
    for records in batches:
        result = proc.process(records, batch(records))
        assert outcomes(result) == len(records)
        accepted = {id(r) for r in result.accepted}
        assert not accepted & {id(r.record) for r in result.rejected}
        assert all(r.reasons for r in result.rejected)
        total_in += len(records)
        total_out += outcomes(result)
    assert total_in == total_out


def test_transforms_from_settings_in_every_spelling():
    """Rules are given as {name: params}, {rule: name, …} or a bare name, in order."""
    cfg = {"schema": CONTRACT["schema"], "transforms": [
        "dedup", {"rule": "filter", "field": "value", "op": "gt", "value": 0},
        {"derive": {"field": "f", "expr": "value * 9 / 5 + 32"}},
        {"outlier": {"field": "value", "key": "sensor", "window": 10, "min_count": 2}},
        {"late": None}, {"window": {"kind": "sliding", "size": 10, "slide": 5}}]}
    proc = build_processor(Settings(cfg), HINTS)
    assert [r.name for r in proc.rules] == ["dedup", "filter", "derive", "outlier", "late",
                                            "window"]
    recs = [{"id": str(i), "sensor": "s", "ts": 1717200000.0 + i, "value": float(i - 1),
             "unit": "C"} for i in range(5)]
    result = proc.process(recs, batch(recs))
    assert result.counts["filtered"] == 2 and len(result.accepted) == 3
    assert result.accepted[0]["f"] == pytest.approx(33.8) and "outlier" in result.accepted[0]
    stats = proc.stats()
    assert stats["filter"] == {"filtered": 2} and stats["derive"]["derived"] == 3


@pytest.mark.parametrize("transforms,key", [
    ("dedup", "transforms"),
    ([{"smooth": {}}], "transforms[0]"),
    ([{"dedup": {"ttl": -1}}], "transforms[0].dedup.ttl"),
    ([{"dedup": {"key": "nope"}}], "transforms[0].dedup.key"),
    ([{"dedup": {"colour": 1}}], "transforms[0].dedup.colour"),
    ([{"derive": {"field": "x", "expr": "__import__('os')"}}], "transforms[0].derive.expr"),
    ([{"derive": {"expr": "value"}}], "transforms[0].derive.field"),
    ([{"convert": {"to": "parsec"}}], "transforms[0].convert.to"),
    ([{"window": {"kind": "hopping"}}], "transforms[0].window.kind"),
    ([{"window": {"kind": "sliding"}}], "transforms[0].window.slide"),
    ([{"window": {"slide": 5}}], "transforms[0].window.slide"),
    ([{"window": {"kind": "sliding", "size": 10, "slide": 3}}], "transforms[0].window.slide"),
    ([{"late": {}}, {"window": {"lateness": 5}}], "transforms[1].window.lateness"),
    ([{"outlier": {"window": 1}}], "transforms[0].outlier.window"),
    ([{"filter": {"field": "v", "op": "gt"}}], "transforms[0].filter.value"),
    ([{"dedup": {}, "late": {}}], "transforms[0]"),
    ([{"dedup": "fast"}], "transforms[0].dedup"),
])
def test_bad_transforms_are_config_errors_naming_the_rule(transforms, key):
    """A wrong rule list raises ConfigError naming the item and parameter."""
    with pytest.raises(ConfigError) as err:
        build_processor(Settings({"schema": CONTRACT["schema"], "transforms": transforms}), HINTS)
    assert err.value.key == key


def test_time_rules_need_an_event_time():
    """late and window without schema.event_time are ConfigErrors."""
    cfg = {"schema": {"fields": {"v": "float"}}, "transforms": ["late"]}
    with pytest.raises(ConfigError) as err:
        build_processor(Settings(cfg), HINTS)
    assert err.value.key == "transforms[0].late"
    assert split_rule({"rule": "late"}, "x") == ("late", {})


def test_default_chain_and_source_schema():
    """Without settings the chain is dedup, late, window; a source schema is used when given."""
    proc = build_processor(Settings(), SimulatedSource.hints)
    assert [r.name for r in proc.rules] == ["dedup", "late", "window"]
    assert build_processor(Settings({"transforms": []}), SimulatedSource.hints).rules == []
    plain = build_processor(Settings(), FieldHints())
    assert plain.rules == [] and plain.schema.fields == ()
    own = build_processor(Settings(), FieldHints(), source_schema=CONTRACT["schema"])
    assert own.schema.key == "id"
    legacy = build_processor(Settings({"pipeline.required": ["a"]}), FieldHints())
    assert legacy.validator.run([{}])[2] == [{}]


def test_a_snapshot_source_gets_a_dedup_ttl_and_lateness_covering_its_span():
    """For a source whose responses repeat an hour, dedup remembers keys two hours and the late
    rule allows an hour; explicit parameters still win; other sources keep 600 s and 30 s."""
    snapshot = FieldHints(value_field="value", key_field="sensor", time_field="ts",
                          snapshot_span=3600.0)
    cfg = {"schema": CONTRACT["schema"]}
    dedup, late, _window = build_processor(Settings(cfg), snapshot).rules
    assert dedup.ttl == 7200.0 and late.watermark.lateness == 3600.0
    own = build_processor(Settings({**cfg, "transforms": [{"dedup": {"ttl": 60}},
                                                          {"late": {"lateness": 5}}]}), snapshot)
    assert own.rules[0].ttl == 60.0 and own.rules[1].watermark.lateness == 5.0
    dedup, late, _window = build_processor(Settings(cfg), HINTS).rules
    assert dedup.ttl == 600.0 and late.watermark.lateness == 30.0


def test_dedup_key_may_list_fields_and_each_must_be_declared():
    """dedup key [id, unit] dedups on both fields (fused like staged); an undeclared field in
    the list is a ConfigError naming the key."""
    cfg = {**CONTRACT, "transforms": [{"dedup": {"key": ["id", "unit"]}}, "late"]}
    proc = build_processor(Settings(cfg), HINTS)
    assert proc.rules[0].key == ("id", "unit") and proc.validator.fused == proc.rules
    lines = generate(3000)
    fused, staged = run_both(cfg, [decode_lines(lines[i:i + 500]) for i in range(0, 3000, 500)])
    assert fused == staged
    bad = {**CONTRACT, "transforms": [{"dedup": {"key": ["id", "nope"]}}]}
    with pytest.raises(ConfigError) as err:
        build_processor(Settings(bad), HINTS)
    assert err.value.key == "transforms[0].dedup.key" and "'nope'" in str(err.value)


def test_tick_closes_idle_windows_and_runtime_stop_flushes():
    """Processor.tick() emits windows after the idle timeout on the injected monotonic clock."""
    mono = FakeClock(0.0)
    out = []
    cfg = dict(CONTRACT, transforms=[{"late": {}}, {"window": {"size": 10, "idle_timeout": 5,
                                                               "key": "sensor"}}])
    proc = build_processor(Settings(cfg), HINTS, publish=lambda t, p: out.extend(p),
                           monotonic=mono)
    rec = {"id": "1", "sensor": "s", "ts": "2024-06-01T00:00:01.000Z", "value": 1.0, "unit": "C"}
    proc.process([rec], batch([rec]))
    assert proc.tick() == 0
    mono.advance(5)
    assert proc.tick() == 1 and out[0]["closed_by"] == "idle"


def test_simulator_with_injected_faults_end_to_end():
    """On the runtime, the simulator's invalid records are quarantined with the right reasons,
    duplicates and late records are counted, windows are emitted and every count adds up."""
    source = SimulatedSource(seed=7, batch_size=200, count=2000, invalid_rate=0.03,
                             duplicate_rate=0.03, late_rate=0.03, null_rate=0.05)
    rt = Runtime(Settings({"source.interval": 0.1}), source)
    published = []
    rt.events.subscribe("rejections", published.extend)
    with rt:
        deadline = time.monotonic() + 20
        while rt.metrics.counter("batches_processed") < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
    c = rt.counts()
    assert c["in"] == 2000
    assert c["in"] == (c["accepted"] + c["rejected"] + c["duplicate"] + c["filtered"]
                       + c["late"] + c["dropped"])
    assert c["rejected"] > 0 and c["duplicate"] > 0 and c["late"] > 0
    reasons = rt.quarantine.by_reason()
    assert set(reasons) == {"temperature:type", "sensor:required", "ts:timestamp"}
    assert sum(reasons.values()) == c["rejected"] == len(published)
    assert rt.windows.total > 0 and rt.late.total == c["late"]
    assert rt.processor.stats()["nulls"]["temperature"] > 0
    window = rt.windows.recent(1)[0]
    assert {"key", "start", "end", "count", "mean", "min", "max", "p95"} <= set(window)
    assert rt.metrics.snapshot()["histograms"]["batch_processing_seconds"]["count"] >= 10


def test_runtime_counts_outcomes_with_a_list_source():
    """Duplicates from a list source are counted as duplicates on the runtime's metrics."""
    rt = Runtime(Settings({"source.interval": 0.1}),
                 ListSource([[{"id": 1}, {"id": 1}, {"id": 2}, "junk"]]))
    with rt:
        deadline = time.monotonic() + 10
        while rt.metrics.counter("batches_processed") < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
    c = rt.counts()
    assert (c["in"], c["accepted"], c["duplicate"], c["rejected"]) == (4, 2, 1, 1)


def test_a_stream_that_stops_releases_its_windows():
    """On the runtime, the consumer's idle tick emits open windows after the idle timeout."""
    cfg = {"source.interval": 0.1, "schema": CONTRACT["schema"],
           "transforms": ["late", {"window": {"size": 10, "key": "sensor", "idle_timeout": 0.3}}]}
    rec = {"id": "1", "sensor": "s", "ts": "2024-06-01T00:00:01.000Z", "value": 1.0, "unit": "C"}
    rt = Runtime(Settings(cfg), ListSource([[rec]]))
    with rt:
        deadline = time.monotonic() + 10
        while rt.windows.total == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rt.windows.recent(1)[0]["closed_by"] == "idle"


def test_check_config_validates_schema_and_transforms(tmp_path):
    """streamdash check-config reports a bad rule with its key (exit 2)."""
    from streamdash.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("transforms:\n  - derive: {field: x, expr: 'open(1)'}\n")
    assert main(["check-config", str(bad)]) == 2
    good = tmp_path / "good.yaml"
    good.write_text("schema:\n  key: id\n  fields: {id: str}\ntransforms: [dedup]\n")
    assert main(["check-config", str(good)]) == 0


@pytest.mark.parametrize("cfg", [CONTRACT, BATCH_WATERMARK], ids=["record", "batch"])
def test_raw_lines_are_decoded_in_chunks_with_the_same_outcome(cfg):
    """Raw JSON lines give the same result as decoded records, broken lines quarantined."""
    lines = generate(3000)
    results = []
    for raw in (True, False):
        windows = []
        proc = build_processor(Settings(cfg), HINTS, clock=lambda: 1_764_198_000.0,
                               publish=lambda t, p, windows=windows: windows.extend(p))
        out = []
        for i in range(0, len(lines), 1000):
            chunk = lines[i:i + 1000] + [b"{broken"]
            records = chunk if raw else decode_lines(chunk)
            r = proc.process(records, batch(records))
            assert outcomes(r) == len(chunk)
            out.append((r.accepted, [(x.record, x.reasons) for x in r.rejected], r.counts, r.nulls))
        proc.flush()
        results.append((out, windows))
    assert results[0] == results[1]
    mixed = build_processor(Settings(CONTRACT), HINTS)
    r = mixed.process([lines[0], {"id": "x"}], batch([]))
    assert len(r.accepted) == 1 and r.rejected[0].reasons[0]["field"] == "sensor"


def test_rule_durations_accept_text_and_defaults_come_from_the_hints():
    """ttl, lateness, size and idle_timeout take '1h'/'2m'/'10s'; convert's and outlier's
    field and key default to the source's hints, and an explicit key: null means no key."""
    cfg = {"schema": CONTRACT["schema"], "transforms": [
        {"dedup": {"ttl": "1h"}}, {"convert": {"to": "C"}}, {"outlier": {"key": None}},
        {"late": {"lateness": "2m"}}, {"window": {"size": "10s", "idle_timeout": "1m"}}]}
    dedup, convert, outlier, late, window = build_processor(Settings(cfg), HINTS).rules
    assert (dedup.ttl, late.watermark.lateness, window.size, window.idle_timeout) == (
        3600.0, 120.0, 10.0, 60.0)
    assert (convert.field, convert.unit_field, outlier.field, outlier.key) == (
        "value", "unit", "value", None)
    assert (window.field, window.key, window.watermark) == ("value", "sensor", late.watermark)
