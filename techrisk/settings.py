"""Where things go on embedded defaults: local files under ``var/`` (git-ignored)."""

from __future__ import annotations

import os
from pathlib import Path

VAR = Path(os.environ.get("TECHRISK_VAR", "var"))
MARKET_DIR = VAR / "market"
FEATURE_TABLE = VAR / "features.parquet"
DEMO_SCREEN_LIST = VAR / "screening_list.parquet"
SCREENING_DIR = VAR / "screening"
