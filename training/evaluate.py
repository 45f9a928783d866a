"""Evaluate a model (or a baseline) on a slice: overall and per product.

One function for every contender so that the champion, the scorecard, the policy points and
the oracle are measured with the same code on the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from training import metrics

RANKING = ("auc", "gini", "ks")


def ranking_metrics(y: np.ndarray, risk: np.ndarray) -> dict[str, float]:
    """AUC, Gini and KS of a risk-ordered score (higher = riskier)."""
    if len(np.unique(y)) < 2:
        return {}
    return {"auc": metrics.auc(y, risk), "gini": metrics.gini(y, risk), "ks": metrics.ks(y, risk)}


def pd_metrics(y: np.ndarray, pd_: np.ndarray) -> dict[str, float]:
    """Ranking plus calibration metrics of a probability of default."""
    out = ranking_metrics(y, pd_)
    out.update(
        {
            "brier": metrics.brier(y, pd_),
            "ece": metrics.ece(y, pd_),
            "default_rate": float(np.mean(y)),
            "pd_mean": float(np.mean(pd_)),
            "rows": float(len(y)),
        }
    )
    return out


def by_product(
    y: np.ndarray,
    values: np.ndarray,
    product: np.ndarray | None,
    fn=pd_metrics,
) -> dict[str, dict[str, float]]:
    """``{"all": {...}, "<product>": {...}}`` for each product present."""
    out = {"all": fn(y, values)}
    if product is not None:
        for p in sorted(set(product)):
            m = product == p
            if m.sum() and len(np.unique(y[m])) == 2:
                out[p] = fn(y[m], values[m])
    return out


def flatten(prefix: str, nested: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """MLflow metric names: ``<prefix>_<metric>`` overall, ``<prefix>_<product>_<metric>``."""
    out = {}
    for group, values in nested.items():
        for name, value in values.items():
            key = f"{prefix}_{name}" if group == "all" else f"{prefix}_{group}_{name}"
            out[key] = float(value)
    return out
