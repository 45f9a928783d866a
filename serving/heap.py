"""A worker's long-lived heap, kept out of the cyclic garbage collector's way.

Once the model is loaded a worker holds about 460,000 objects the collector tracks (trees,
numba, pandas, MLflow, pydantic schemas); a full collection walks every one of them, 215 ms
on this machine with the GIL held, and every request in flight waits it out: the occasional
200-300 ms small request beside a large one. Frozen after start-up (``gc.freeze``), they are
skipped, and collections walk only what requests create.
"""

from __future__ import annotations

import gc


def freeze_startup() -> None:
    """Freeze what start-up built; its garbage is freed first, not kept forever."""
    gc.collect()
    gc.freeze()


def refreeze() -> None:
    """After a model swap: the replaced model was frozen with the rest, where no collection
    would ever free it; unfrozen, it is collected (one full pause per reload, not one per
    thousands of requests) and the new model frozen in its place."""
    gc.unfreeze()
    freeze_startup()
