"""Running one rule on a batch, as the processor does."""

from __future__ import annotations

from streamdash.pipeline.rules import BatchContext


def run(rule, records, times=None):
    """``rule`` on one batch: ``(records, times, outcome counts)``."""
    ctx = BatchContext()
    out, out_t = rule(records, list(times) if times is not None else [0.0] * len(records), ctx)
    return out, out_t, ctx.counts


def run_batch(rule, records, times):
    """One batch through ``rule`` including its end of batch (where the watermark moves)."""
    ctx = BatchContext()
    out, out_t = rule(records, list(times), ctx)
    rule.end_batch(ctx)
    return out, out_t, ctx.counts


def through_json(state):
    """``state`` as another process reads it back: encoded and decoded by orjson (tuples
    become lists, ``-inf`` must already be ``None``), as the state store does."""
    import orjson

    return orjson.loads(orjson.dumps(state))


def restored(make, rule):
    """A new rule from ``make()`` given ``rule``'s exported state, through JSON."""
    other = make()
    other.restore_state(through_json(rule.export_state()))
    return other
