"""A long-running component's garbage collector: what was alive at start is frozen, and
collections are rarer."""

from __future__ import annotations

import gc

from kybernetes.util.gc_tuning import OLDER_RATIO, YOUNG_THRESHOLD, tune_for_long_running


def test_tuning_freezes_the_startup_heap_and_raises_the_thresholds():
    before = gc.get_threshold()
    try:
        tune_for_long_running()
        assert gc.get_threshold() == (YOUNG_THRESHOLD, OLDER_RATIO, OLDER_RATIO)
        assert gc.get_freeze_count() > 0  # what was alive is out of the collector's walks
        cycle: list = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # cycles made after the start are still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
