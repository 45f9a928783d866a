"""Evaluate a model (or a baseline) on a slice: overall and per product.

One function for every contender so that the champion, the scorecard, the policy points and
the oracle are measured with the same code on the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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


#: Display labels of the contenders, for the console and the model card only: the run's
#: metrics and code use the identifiers.
LABELS: Mapping[str, str] = {
    "gbm": "LightGBM (tuned)",
    "scorecard": "WoE scorecard (optbinning)",
    "blend": "blend of LightGBM and scorecard margins",
    "policy_points": "科技型中小企业 policy points",
    "oracle": "oracle (true PD)",
}


@dataclass
class Evaluation:
    """Every contender's figures on validation and OOT, keyed by contender identifier."""

    valid: dict[str, dict[str, float]]
    oot: dict[str, dict[str, float]]

    def labelled(self, split: str, champion: str) -> dict[str, dict[str, float]]:
        """``{display label: metrics}`` for the card and console, the champion marked."""
        table = self.valid if split == "valid" else self.oot
        return {
            LABELS[c] + (" — champion" if c == champion else ""): values
            for c, values in table.items()
        }

    def metrics(self) -> dict[str, float]:
        """MLflow names: ``<split>_<contender>_<metric>``."""
        return {
            f"{split}_{c}_{k}": float(v)
            for split, table in (("valid", self.valid), ("oot", self.oot))
            for c, values in table.items()
            for k, v in values.items()
        }


def evaluate(
    pds: Mapping[str, Mapping[str, np.ndarray]],
    y: Mapping[str, np.ndarray],
    policy_points: Mapping[str, np.ndarray | None],
    truth: Mapping[str, np.ndarray | None],
) -> Evaluation:
    """Measure each contender on validation and OOT with the same code on the same rows.

    ``pds`` maps a servable contender to its calibrated PD per split; the policy points are a
    ranking (ranking metrics only); the oracle is the true PD, when the table has one.
    """
    out: dict[str, dict[str, dict[str, float]]] = {"valid": {}, "oot": {}}
    for split in out:
        for c, by_split in pds.items():
            out[split][c] = pd_metrics(y[split], by_split[split])
        if policy_points.get(split) is not None:
            out[split]["policy_points"] = ranking_metrics(y[split], policy_points[split])
        if truth.get(split) is not None:
            out[split]["oracle"] = pd_metrics(y[split], truth[split])
    return Evaluation(out["valid"], out["oot"])
