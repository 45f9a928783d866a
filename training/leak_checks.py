"""Leak checks a credit analyst runs before trusting a column: binned AUC, IV, gain dominance.

The raw-value AUC misses a column rewritten after the outcome whose relation to default is not
monotone (a loan term shortened at charge-off puts defaults *between* the round terms): its
ranking by value is mediocre, but once binned its WoE separates the classes. So the data report
also measures each feature binned (the scorecard's optbinning WoE), and fits one quick small
LightGBM on train, judged on valid, to see whether a single column carries the model.
"""

from __future__ import annotations

import math

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
from optbinning import BinningProcess

from training.metrics import auc

__all__ = ["DROP_CANDIDATES", "QUICK_PARAMS", "binned_aucs", "model_dominance"]

#: The quick model: small, fast, unconstrained, so that a leak shows as dominance.
QUICK_PARAMS = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_child_samples": 20,
    "num_threads": 1,
    "max_bin": 63,
    "deterministic": True,
    "force_row_wise": True,
    "seed": 0,
    "verbosity": -1,
}
QUICK_ROUNDS = 300
QUICK_EARLY_STOP = 30
#: Training rows sampled for the quick model: enough to find a leak, cheap on 1 M rows.
QUICK_MAX_ROWS = 20_000
#: Features (highest gain first) refitted without, for the valid-AUC drop.
DROP_CANDIDATES = 3


def _direction_free(y: npt.NDArray[np.int64], score: npt.NDArray[np.float64]) -> float:
    if y.min() == y.max():
        return math.nan
    a = auc(y, score)
    return max(a, 1.0 - a)


def binned_aucs(
    binning: BinningProcess, train: pd.DataFrame, y: npt.NDArray[np.int64], features: list[str]
) -> pd.Series:
    """Direction-free AUC of each feature's WoE (its binned form) on train; NaN if not binned.

    Missing values score with their own bin's WoE (``metric_missing="empirical"``), so a
    column whose *absence* gives the outcome away is caught as well.
    """
    out = {}
    names = set(binning.variable_names)
    for f in features:
        if f not in names:
            out[f] = math.nan
            continue
        woe = binning.get_binned_variable(f).transform(
            train[f].to_numpy(), metric="woe", metric_missing="empirical"
        )
        out[f] = _direction_free(y, np.asarray(woe, dtype=np.float64))
    return pd.Series(out, name="binned_auc", dtype=np.float64)


def _lgb_frame(frame: pd.DataFrame, categories: dict[str, pd.Index]) -> pd.DataFrame:
    """Numbers as float, text as pandas categories with train's levels (LightGBM's own way)."""
    out = {}
    for c in frame.columns:
        if c in categories:
            out[c] = pd.Categorical(frame[c].astype("string"), categories=categories[c])
        else:
            x = frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
            out[c] = np.where(np.isinf(x), np.nan, x)
    return pd.DataFrame(out, index=frame.index)


def _fit_valid_auc(
    train: pd.DataFrame,
    y_train: npt.NDArray[np.int64],
    valid: pd.DataFrame,
    y_valid: npt.NDArray[np.int64],
) -> tuple[lgb.Booster, float]:
    dtrain = lgb.Dataset(train, y_train, free_raw_data=False)
    dvalid = dtrain.create_valid(valid, y_valid)
    booster = lgb.train(
        QUICK_PARAMS,
        dtrain,
        num_boost_round=QUICK_ROUNDS,
        valid_sets=[dvalid],
        callbacks=[lgb.early_stopping(QUICK_EARLY_STOP, verbose=False)],
    )
    pred = booster.predict(valid, num_iteration=booster.best_iteration)
    return booster, auc(y_valid, np.asarray(pred, dtype=np.float64))


def model_dominance(
    train: pd.DataFrame,
    y_train: npt.NDArray[np.int64],
    valid: pd.DataFrame,
    y_valid: npt.NDArray[np.int64],
    features: list[str],
    categorical: list[str],
) -> pd.DataFrame:
    """Per feature: its share of a quick LightGBM's gain, and the valid-AUC drop without it.

    The drop is measured for the ``DROP_CANDIDATES`` features with the most gain (NaN for the
    others); both columns are NaN when train or valid lacks a class or only one feature is
    left to compare.
    """
    table = pd.DataFrame(
        {"gain_share": math.nan, "valid_auc_drop": math.nan},
        index=pd.Index(features, name="feature"),
    )
    if y_train.min() == y_train.max() or y_valid.min() == y_valid.max() or len(features) < 2:
        return table
    if len(train) > QUICK_MAX_ROWS:
        keep = np.random.default_rng(0).choice(len(train), QUICK_MAX_ROWS, replace=False)
        train, y_train = train.iloc[np.sort(keep)], y_train[np.sort(keep)]
    categories = {
        c: pd.Index(pd.unique(train[c].dropna().astype(str)))
        for c in features
        if c in categorical or not pd.api.types.is_numeric_dtype(train[c].dtype)
    }
    X_train = _lgb_frame(train[features], categories)
    X_valid = _lgb_frame(valid[features], categories)
    booster, full_auc = _fit_valid_auc(X_train, y_train, X_valid, y_valid)
    gain = booster.feature_importance("gain", iteration=booster.best_iteration)
    total = float(np.sum(gain))
    if total <= 0:
        return table
    table["gain_share"] = gain / total
    for f in table["gain_share"].nlargest(DROP_CANDIDATES).index:
        rest = [c for c in features if c != f]
        _, auc_without = _fit_valid_auc(X_train[rest], y_train, X_valid[rest], y_valid)
        table.at[f, "valid_auc_drop"] = full_auc - auc_without
    return table
