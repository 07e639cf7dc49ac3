"""Tests for streamdash.gc_tuning."""

import gc

from streamdash.gc_tuning import YOUNG_THRESHOLD, tune_for_streaming


def test_raises_young_threshold_keeps_older_ratios_and_returns_previous():
    """The young threshold is raised, the older generations' ratios kept, the old values
    returned so a caller (the benchmark) can restore them."""
    before = gc.get_threshold()
    try:
        previous = tune_for_streaming(freeze=False)
        assert previous == before
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
    finally:
        gc.set_threshold(*before)


def test_freeze_moves_live_objects_out_of_collections():
    """With freeze, objects alive at the call are in the permanent generation."""
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    keep = [[i] for i in range(100)]
    try:
        tune_for_streaming(young=5000)
        assert gc.get_threshold()[0] == 5000
        assert gc.get_freeze_count() >= frozen + len(keep)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
