"""Small numpy helpers shared by the families."""

from __future__ import annotations

import numpy as np
import pandas as pd

DAYS_PER_MONTH = 30.4375
DAYS_PER_YEAR = 365.25


def num(values: np.ndarray) -> np.ndarray:
    """A column as float64 with NaN for missing (bools become 0/1)."""
    if values.dtype == object:
        return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
    return values.astype(np.float64)


def isin(values: np.ndarray, members: tuple[str, ...]) -> np.ndarray:
    """0/1 float indicator of a categorical column's membership (sums count rows)."""
    out = np.zeros(len(values))
    for member in members:
        out[values == member] = 1.0
    return out


def codes(values: np.ndarray, labels: tuple[str, ...], first: int = 0) -> np.ndarray:
    """Position of each value in ``labels`` plus ``first``; NaN for values not in it."""
    out = np.full(len(values), np.nan)
    for i, label in enumerate(labels):
        out[values == label] = i + first
    return out


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is missing or not positive."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )
