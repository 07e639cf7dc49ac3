"""The pipeline's keyed state: a pipeline restored from another's export (through JSON) decides
every later batch as the other would have, and refuses what does not fit, part by part."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from streamdash.config import Settings
from streamdash.pipeline import Checkpointable, build_processor
from streamdash.pipeline.jsonl import decode_lines

from .test_processor import BATCH_WATERMARK, CONTRACT, HINTS, batch, flat
from .workload import generate

LINES = generate(3000)


def build(cfg, events, fuse=True):
    return build_processor(Settings(cfg), HINTS, fuse=fuse, clock=lambda: 1_764_198_000.0,
                           publish=lambda t, p: events.append((t, p)))


def play(proc, lines, size):
    """Results of ``lines`` in batches of ``size``: accepted records and outcome counts."""
    out = []
    for i in range(0, len(lines), size):
        chunk = decode_lines(lines[i:i + size])
        r = proc.process(chunk, batch(chunk))
        out.append((r.accepted, dict(r.counts), len(r.rejected)))
    return out


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 3000), st.integers(50, 700), st.sampled_from([CONTRACT, BATCH_WATERMARK]),
       st.booleans())
def test_a_restored_pipeline_decides_every_later_batch_as_the_original(split, size, cfg, fuse):
    """Dedup keys, the watermark (per batch or per record) and the open windows cross over:
    the contract workload (duplicates, late records, windows) split anywhere gives the same
    records, outcomes, late records and windows, fused or not."""
    head, tail = LINES[:split], LINES[split:]
    events_a: list = []
    original = build(cfg, events_a, fuse)
    play(original, head, size)
    saved = orjson.loads(orjson.dumps(original.export_state()))
    events_b: list = []
    copy = build(cfg, events_b, fuse)
    assert copy.restore_state(saved) == (["0:dedup", "2:late", "3:window"], [])
    mark = len(events_a)
    assert play(copy, tail, size) == play(original, tail, size)
    copy.flush()
    original.flush()
    assert flat(events_b) == flat(events_a[mark:])


def test_the_export_names_each_stateful_rule_by_place_with_versions():
    """Only the rules with state across batches are in it, each under "<place>:<name>"."""
    proc = build(CONTRACT, [])
    assert isinstance(proc, Checkpointable)
    state = proc.export_state()
    assert state["v"] == 1 and set(state["rules"]) == {"0:dedup", "2:late", "3:window"}
    assert all(part["v"] == 1 for part in state["rules"].values())
    before = proc.changes
    play(proc, LINES[:100], 100)
    assert proc.changes == before + 1


def test_a_restore_refuses_what_does_not_fit_part_by_part():
    """Another format version refuses everything; another rule version, a rule this chain
    does not have at that place, or state a rule finds unfit refuses that part only — the
    others are restored. Nothing raises."""
    source = build(CONTRACT, [])
    play(source, LINES[:500], 250)
    saved = orjson.loads(orjson.dumps(source.export_state()))
    assert build(CONTRACT, []).restore_state({**saved, "v": 2}) == \
        ([], ["keyed state of format version 2, this pipeline reads version 1"])
    assert build(CONTRACT, []).restore_state({"v": 1}) == ([], ["keyed state without its rules"])
    assert build(CONTRACT, []).restore_state([]) == \
        ([], ["keyed state of format version None, this pipeline reads version 1"])
    parts = dict(saved["rules"])
    parts["0:dedup"] = {**parts["0:dedup"], "v": 9}
    parts["7:dedup"] = parts["2:late"]
    parts["3:window"] = {"v": 1, "state": {**parts["3:window"]["state"], "size": 60.0}}
    proc = build(CONTRACT, [])
    restored, refused = proc.restore_state({"v": 1, "rules": parts})
    assert restored == ["2:late"]
    assert refused[0] == "7:dedup: no such rule at that place in this chain"
    assert refused[1] == "0:dedup: state of version 9, the rule reads version 1"
    assert refused[2].startswith("3:window: window: saved for size, slide")
    assert proc.rules[0].seen == set() and proc.rules[3].open == {}
    assert proc.rules[2].watermark.max_time == source.rules[2].watermark.max_time
