"""DeLong's test for two correlated ROC AUCs on the same rows (DeLong et al., 1988).

The fast midrank form of Sun & Xu (2014): O(n log n) per model. It gives the variance of the
AUC difference that the retrain gate needs for its confidence interval, without bootstrap
resampling.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def _midranks(x: np.ndarray) -> np.ndarray:
    return stats.rankdata(x, method="average")


def auc_difference(
    y: np.ndarray, first: np.ndarray, second: np.ndarray, level: float = 0.95
) -> tuple[float, float, float, float, float]:
    """(AUC of first, AUC of second, difference second − first, CI low, CI high).

    ``first`` and ``second`` are risk scores (higher = riskier) for the same rows.
    """
    y = np.asarray(y, dtype=bool)
    m, n = int(y.sum()), int((~y).sum())
    if m < 2 or n < 2:
        raise ValueError(f"DeLong needs at least two defaults and two non-defaults; got {m}, {n}")
    scores = np.vstack([np.asarray(first, float), np.asarray(second, float)])
    pos, neg = scores[:, y], scores[:, ~y]
    tx = np.apply_along_axis(_midranks, 1, pos)
    ty = np.apply_along_axis(_midranks, 1, neg)
    tz = np.apply_along_axis(_midranks, 1, np.hstack([pos, neg]))
    aucs = (tz[:, :m].sum(axis=1) / m - (m + 1) / 2) / n
    v01 = (tz[:, :m] - tx) / n
    v10 = 1.0 - (tz[:, m:] - ty) / m
    cov = np.cov(v01) / m + np.cov(v10) / n
    diff = float(aucs[1] - aucs[0])
    sd = float(np.sqrt(max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0.0)))
    z = float(stats.norm.ppf(0.5 + level / 2))
    return float(aucs[0]), float(aucs[1]), diff, diff - z * sd, diff + z * sd
