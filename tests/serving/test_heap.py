"""The worker's start-up heap is frozen out of the collector's way, and a replaced model is
still freed after a reload (``serving/heap.py``)."""

from __future__ import annotations

import gc
import weakref

from serving import heap


class _Model:
    """Stands for a loaded model: held in a reference cycle, so only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_frozen_objects_are_out_of_a_collections_reach_until_refrozen() -> None:
    old = _Model()
    ref = weakref.ref(old)
    heap.freeze_startup()
    try:
        assert gc.get_freeze_count() > 0
        del old
        gc.collect()
        assert ref() is not None  # frozen: a full collection no longer walks it
        heap.refreeze()
        assert ref() is None  # the swapped-out model is freed by the reload
        assert gc.get_freeze_count() > 0  # and the rest frozen again
    finally:
        gc.unfreeze()
