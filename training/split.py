"""Split by time: train on the oldest rows, validate on the next slice, test on the newest.

Never a random split for the headline figures: a PD model is used on applications that come
after the ones it learnt from. A random-but-seeded split exists for tables with no dates and
is recorded as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from training.config import SPLIT_WORDS, SPLITS, ConfigError

#: Default cut points: the dates below which 70 % and 85 % of the rows fall, at month starts.
DEFAULT_QUANTILES = (0.70, 0.85)


@dataclass(frozen=True)
class Split:
    labels: np.ndarray  # "train" / "valid" / "oot" per row
    kind: str  # "time", "column" or "random"
    valid_start: date | None = None
    oot_start: date | None = None

    def mask(self, name: str) -> np.ndarray:
        return self.labels == name

    def describe(self) -> dict[str, str]:
        out = {"split_kind": self.kind}
        if self.valid_start:
            out["valid_start"] = self.valid_start.isoformat()
        if self.oot_start:
            out["oot_start"] = self.oot_start.isoformat()
        return out


def _month_start(ts: pd.Timestamp) -> date:
    return date(ts.year, ts.month, 1)


def time_split(
    dates: pd.Series,
    valid_start: date | None = None,
    oot_start: date | None = None,
    column: str = "date",
) -> Split:
    """train: before valid_start; valid: [valid_start, oot_start); oot: from oot_start."""
    d = pd.to_datetime(dates, errors="coerce")
    if d.isna().any():
        bad = dates[d.isna()]
        raise ConfigError(
            f"date_column '{column}': {int(d.isna().sum())} row(s) without a readable date, e.g. "
            f"{bad.head(3).tolist()}; rule: every row needs an as-of date (ISO 2024-03-31)"
        )
    if valid_start is None:
        valid_start = _month_start(d.quantile(DEFAULT_QUANTILES[0]))
    if oot_start is None:
        oot_start = _month_start(d.quantile(DEFAULT_QUANTILES[1]))
    if not valid_start < oot_start:
        raise ConfigError(f"valid_start {valid_start} must be before oot_start {oot_start}")
    v, o = pd.Timestamp(valid_start), pd.Timestamp(oot_start)
    labels = np.where(d < v, "train", np.where(d < o, "valid", "oot"))
    return _checked(Split(labels, "time", valid_start, oot_start))


def column_split(values: pd.Series, column: str = "split") -> Split:
    """The bank's own split labels; ``test`` (and a few other words) mean the OOT slice."""
    words = values.astype(str).str.strip().str.lower()
    labels = words.map(SPLIT_WORDS)
    if labels.isna().any():
        bad = sorted(set(values[labels.isna()].astype(str)))
        raise ConfigError(
            f"split_column '{column}': values {bad[:10]} ({int(labels.isna().sum())} row(s)) are "
            f"not split labels; rule: each row is one of {sorted(SPLIT_WORDS)} "
            f"(test = oot, validation = valid)"
        )
    return _checked(Split(labels.to_numpy(dtype=object).astype(str), "column"))


def random_split(n: int, fractions: tuple[float, float, float], seed: int) -> Split:
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    cut1, cut2 = fractions[0], fractions[0] + fractions[1]
    labels = np.where(u < cut1, "train", np.where(u < cut2, "valid", "oot"))
    return _checked(Split(labels, "random"))


def _checked(split: Split) -> Split:
    empty = [s for s in SPLITS if not split.mask(s).any()]
    if empty:
        raise ConfigError(f"no rows in split(s) {empty} ({split.describe()}); move the split dates")
    return split
