"""The feature table on disk: Parquet keyed by ``loan_id``, with its coverage in the metadata.

Coverage travels inside the file (key ``techrisk``) so a training run on someone else's copy
still sees how thin each feature was when the table was built.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.build import coverage
from features.registry import FEATURE_NAMES

METADATA_KEY = b"techrisk"


def write_feature_table(table: pd.DataFrame, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrow = pa.Table.from_pandas(table, preserve_index=True)
    meta = {
        "features": [c for c in FEATURE_NAMES if c in table.columns],
        "coverage": {k: round(float(v), 6) for k, v in coverage(table).items()},
        "rows": len(table),
    }
    merged = {**(arrow.schema.metadata or {}), METADATA_KEY: json.dumps(meta).encode()}
    pq.write_table(arrow.replace_schema_metadata(merged), path)
    return path


def read_feature_table(path: Path) -> tuple[pd.DataFrame, dict]:
    """The table and its metadata (feature list, coverage); empty metadata for foreign files."""
    arrow = pq.read_table(path)
    raw = (arrow.schema.metadata or {}).get(METADATA_KEY)
    return arrow.to_pandas(), (json.loads(raw) if raw else {})
