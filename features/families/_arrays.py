"""Small numpy helpers shared by the families."""

from __future__ import annotations

import numpy as np
import pandas as pd

DAYS_PER_MONTH = 30.4375
DAYS_PER_YEAR = 365.25


def num(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as float64 with NaN for missing (bools become 0/1)."""
    col = frame[column]
    if col.dtype == object:
        col = pd.to_numeric(col, errors="coerce")
    return col.to_numpy(dtype=np.float64, na_value=np.nan)


def isin(frame: pd.DataFrame, column: str, values: tuple[str, ...]) -> np.ndarray:
    """0/1 float indicator of a categorical column's membership (sums count rows)."""
    return np.isin(frame[column].to_numpy(), values).astype(np.float64)


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is missing or not positive."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )
