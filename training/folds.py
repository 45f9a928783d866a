"""The champion of a small table without dates, chosen on K folds instead of one small slice.

On a 1,000-row table the validation slice holds ~200 rows and ~60 defaults: its AUC has a
standard error near 0.03, larger than the gaps between the contenders, and the same rows
have already stopped the booster early, steered the tuning and fitted the Platt map. A choice
read there is mostly noise, and it leans to the contender that was fitted to those rows.

So when the table has no dates and train + valid hold at most :data:`FOLD_MAX_ROWS` rows, the
choice reads out-of-fold margins over train + valid: in each of :data:`FOLDS` stratified folds
the scorecard (same settings) and the booster (the kept parameters and number of trees) are
refitted on the other folds and score the held-out one. The booster weight of the blend (0 is
the scorecard, 1 the booster) with the best mean fold AUC names the champion; the best weight
strictly between them is the blend contender's. The served contenders are still the ones
fitted on train and calibrated on valid, and the OOT slice is never read.

With dates the time split stays the judge: random folds would let later applications choose
the model for earlier ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from training import metrics
from training.baselines import ScorecardBaseline

#: Folds of the out-of-fold choice.
FOLDS = 5
#: Train + valid rows up to which the choice reads folds. Above it the validation slice holds
#: thousands of rows (its AUC resolves gaps of ~0.01) and K refits cost more than they tell.
FOLD_MAX_ROWS = 20_000
#: Booster weights of the blend scanned on the folds, ends included.
WEIGHTS = tuple(np.round(np.arange(0.0, 1.0001, 0.05), 2))


@dataclass(frozen=True)
class FoldChoice:
    """Mean out-of-fold AUC per booster weight, and what it chooses."""

    weights: tuple[float, ...]
    auc: tuple[float, ...]  # mean fold AUC per weight
    folds: int

    @property
    def blend_weight(self) -> float:
        """The best weight strictly between the pure contenders."""
        inner = [i for i, w in enumerate(self.weights) if 0 < w < 1]
        return float(self.weights[max(inner, key=lambda i: self.auc[i])])

    @property
    def champion(self) -> str:
        """``gbm``, ``scorecard`` or ``blend``; ties go to the simpler contender (the scorecard,
        then the blend)."""
        best = max(range(len(self.weights)), key=lambda i: (self.auc[i], -self.weights[i]))
        w = self.weights[best]
        return "scorecard" if w == 0 else "gbm" if w == 1 else "blend"

    def metrics(self) -> dict[str, float]:
        """``folds_<contender>_auc`` for the run's metrics."""
        at = dict(zip(self.weights, self.auc, strict=True))
        return {
            "folds": float(self.folds),
            "folds_gbm_auc": at[1.0],
            "folds_scorecard_auc": at[0.0],
            "folds_blend_auc": at[self.blend_weight],
        }


def uses_folds(has_dates: bool, n_train_valid: int) -> bool:
    """Whether the champion is chosen on folds (see module doc) rather than on validation."""
    return not has_dates and n_train_valid <= FOLD_MAX_ROWS


def choose_on_folds(
    X: np.ndarray,
    y: np.ndarray,
    features: list[str],
    categorical: list[str],
    gbm_params: dict[str, Any],
    n_trees: int,
    fit_scorecard: Callable[[pd.DataFrame, np.ndarray], ScorecardBaseline | None],
    seed: int,
) -> FoldChoice | None:
    """The fold choice over the rows ``X`` (train + valid, encoded), or None when a fold's
    scorecard cannot be fitted (then validation chooses, as for a table with dates)."""
    cat_idx = [features.index(c) for c in categorical]
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    per_fold: list[list[float]] = []
    for fit_rows, held in folds.split(X, y):
        card = fit_scorecard(pd.DataFrame(X[fit_rows], columns=features), y[fit_rows])
        if card is None:
            return None
        data = lgb.Dataset(
            X[fit_rows], y[fit_rows], feature_name=features, categorical_feature=cat_idx
        )
        booster = lgb.train(gbm_params, data, num_boost_round=max(n_trees, 1))
        gbm = booster.predict(X[held], raw_score=True)
        card_logit = card.logit(pd.DataFrame(X[held], columns=features))
        per_fold.append([metrics.auc(y[held], w * gbm + (1 - w) * card_logit) for w in WEIGHTS])
    mean = np.mean(np.asarray(per_fold), axis=0)
    return FoldChoice(WEIGHTS, tuple(float(a) for a in mean), FOLDS)
