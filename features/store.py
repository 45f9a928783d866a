"""The feature table on disk: Parquet keyed by ``loan_id``.

Coverage is not stored with it: a training run measures it on its own slices (the data
report's ``coverage_train`` / ``coverage_valid`` / ``coverage_oot``), which is what a model's
reader needs, and stays true for a table someone else built or edited.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_feature_table(table: pd.DataFrame, path: Path) -> Path:
    """Write ``table`` with its ``loan_id`` index, creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(path, index=True)
    return path
