"""Stage 2 of a run: fit the booster (size-adapted, then tuned within a time budget).

Every fit stops early on the validation slice and is cut to its best iteration. On a table with
dates (or a large one) the tuned booster replaces the size-adapted one only when its validation
AUC is higher. On a small table without dates the validation slice is too small to choose
(~200 rows on German credit, and the tuning has already been fitted to it: on the UCI sample a
tuned trial beat the plain start on validation, and the champion built on it lost 0.003 test
AUC), so the
starting points and the best tuned trial are each scored by LightGBM's own cross-validation
over train + valid, and the simplest within one standard error of the best mean out-of-fold
AUC is kept (the plain start, then the size-adapted one, then the tuned trial).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from models.calibration import PlattCalibrator
from models.encoding import FeatureEncoder
from models.pd_model import PDModel
from models.spec import LGBMSpec
from training import metrics
from training.dataset import TrainingData
from training.folds import FOLDS

if TYPE_CHECKING:
    from training.tune import Budget

#: Rows of the validation slice timed for the TreeSHAP cost per row.
SHAP_TIMING_ROWS = 2_000
#: The second starting point on a small table without dates: the plain LightGBM script a data
#: team writes (LightGBM's own leaf size of 20 rows, 15 leaves, learning rate 0.03, next to no
#: penalty). The size-adapted leaves (3 % of the rows) suit many noisy columns; on the UCI
#: credit-card sample (4 columns, 3.6 k training rows) leaves of 20 rows lift validation AUC
#: from 0.622 to 0.625 and test AUC from 0.634 to 0.643. It is fitted whatever the tuning
#: budget: on a busy machine a budget of a few seconds may not finish one trial.
PLAIN_START: dict[str, Any] = {
    "num_leaves": 15,
    "min_child_samples": 20,
    "learning_rate": 0.03,
    "lambda_l1": 0.0,
    "lambda_l2": 0.0,
    "min_sum_hessian_in_leaf": 1e-3,
}
#: Configurations scored on folds, simplest first: the earliest within one standard error of the
#: best is kept.
FOLD_PREFERENCE = ("plain-start", "size-adapted", "tuned")


@dataclass
class BoosterInputs:
    """The matrices and constraints every booster fit of one run shares."""

    features: list[str]
    categorical: list[str]
    directions: dict[str, int]
    X_train: np.ndarray
    y_train: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray

    def pooled(self) -> lgb.Dataset:
        """Train + valid as one dataset, for the folds."""
        return lgb.Dataset(
            np.vstack([self.X_train, self.X_valid]),
            np.concatenate([self.y_train, self.y_valid]),
            feature_name=self.features,
            categorical_feature=[self.features.index(c) for c in self.categorical],
            free_raw_data=False,
        )

    def datasets(self) -> tuple[lgb.Dataset, lgb.Dataset]:
        cat_idx = [self.features.index(c) for c in self.categorical]
        dtrain = lgb.Dataset(
            self.X_train,
            self.y_train,
            feature_name=self.features,
            categorical_feature=cat_idx,
            free_raw_data=False,
        )
        return dtrain, dtrain.create_valid(self.X_valid, self.y_valid)


@dataclass
class GBMFit:
    booster: lgb.Booster
    params: dict[str, Any]  # the LightGBM parameters of the booster kept
    best_iteration: int
    fit_seconds: float
    valid_auc: float
    #: One row per fit (the size-adapted one first): parameters, validation AUC, state.
    trials: pd.DataFrame
    tune_seconds: float  # wall clock spent searching (0 without tuning)
    shap_us_per_row: float  # exact TreeSHAP of the kept booster, one thread
    #: Mean out-of-fold AUC of the kept configuration when folds chose it, else None.
    folds_auc: float | None = None
    #: The search's wall-clock cap stopped it before its trials were done.
    tune_cut_by_clock: bool = False

    @property
    def trials_done(self) -> int:
        """Optuna trials that ran to the end (the numbered rows of ``trials``; the starts,
        ``size-adapted`` and ``plain-start``, are not trials of the search)."""
        searched = self.trials["trial"].astype(str).str.isdigit()
        return int((searched & (self.trials["state"] == "COMPLETE")).sum())


def train_booster(
    params: dict[str, Any],
    spec: LGBMSpec,
    inputs: BoosterInputs,
    callbacks: Sequence[Callable[..., None]] = (),
) -> lgb.Booster:
    """One early-stopped fit, cut to its best iteration."""
    dtrain, dvalid = inputs.datasets()
    booster = lgb.train(
        params,
        dtrain,
        num_boost_round=spec.num_boost_round,
        valid_sets=[dvalid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(spec.early_stopping_rounds, verbose=False), *callbacks],
    )
    return booster.model_from_string(booster.model_to_string(num_iteration=booster.best_iteration))


def valid_auc(booster: lgb.Booster, inputs: BoosterInputs) -> float:
    return metrics.auc(inputs.y_valid, booster.predict(inputs.X_valid, raw_score=True))


class FoldAUC(NamedTuple):
    """Mean out-of-fold AUC of one configuration and its standard error over the folds."""

    mean: float
    se: float


def folds_auc(params: dict[str, Any], spec: LGBMSpec, inputs: BoosterInputs, seed: int) -> FoldAUC:
    """Out-of-fold AUC of one configuration over train + valid (:data:`FOLDS` stratified folds,
    the same for every configuration; trees stopped early on the mean fold AUC)."""
    y = np.concatenate([inputs.y_train, inputs.y_valid])
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(y, y)
    history = lgb.cv(
        {**params, "metric": "auc"},
        inputs.pooled(),
        num_boost_round=spec.num_boost_round,
        folds=list(folds),
        callbacks=[lgb.early_stopping(spec.early_stopping_rounds, verbose=False)],
    )
    best = int(np.argmax(history["valid auc-mean"]))
    return FoldAUC(
        float(history["valid auc-mean"][best]),
        float(history["valid auc-stdv"][best]) / np.sqrt(FOLDS),
    )


def kept_on_folds(aucs: dict[str, FoldAUC]) -> str:
    """The simplest configuration (:data:`FOLD_PREFERENCE` order) within one standard error of
    the best mean fold AUC, the one-standard-error rule: a tuned trial must win by more than the
    folds can resolve, so the choice does not hinge on how many trials a busy machine finished."""
    ranked = [c for c in FOLD_PREFERENCE if c in aucs]
    best = max(ranked, key=lambda c: aucs[c].mean)
    return next(c for c in ranked if aucs[c].mean >= aucs[best].mean - aucs[best].se)


def shap_cost_us(booster: lgb.Booster, X: np.ndarray) -> float:
    """Microseconds of exact TreeSHAP per row on one thread (the serving budget's unit)."""
    rows = X[:SHAP_TIMING_ROWS]
    start = time.perf_counter()
    booster.predict(rows, pred_contrib=True, num_threads=1)
    return (time.perf_counter() - start) / max(len(rows), 1) * 1e6


def fit_gbm(
    inputs: BoosterInputs,
    spec: LGBMSpec,
    budget: Budget | None,
    max_depth: int,
    overrides: dict[str, Any] | None = None,
    on_folds: bool = False,
) -> GBMFit:
    """The size-adapted booster, then (a ``budget`` that searches) the Optuna search around it; the
    best on validation is kept. With ``on_folds`` (a small table without dates) also
    :data:`PLAIN_START`, the search starts from the better start on validation, and folds
    choose among the two starts and the best tuned trial (see module doc)."""
    from training.tune import tune

    spec = spec.resolved(len(inputs.y_train), int(inputs.y_train.sum()))
    params = spec.lgb_params(inputs.features, inputs.directions, inputs.categorical)
    params.update(overrides or {})
    start = time.perf_counter()
    booster = train_booster(params, spec, inputs)
    fit_seconds = time.perf_counter() - start
    auc = valid_auc(booster, inputs)
    rows = [
        {
            "trial": "size-adapted",
            "state": "COMPLETE",
            "valid_auc": auc,
            "seconds": fit_seconds,
            **_searched(params),
        }
    ]
    configs = {"size-adapted": (booster, params, auc)}
    if on_folds:
        plain = {**params, **PLAIN_START, **(overrides or {})}
        t0 = time.perf_counter()
        plain_booster = train_booster(plain, spec, inputs)
        plain_auc = valid_auc(plain_booster, inputs)
        rows.append(
            {
                "trial": "plain-start",
                "state": "COMPLETE",
                "valid_auc": plain_auc,
                "seconds": time.perf_counter() - t0,
                **_searched(plain),
            }
        )
        configs["plain-start"] = (plain_booster, plain, plain_auc)
        if plain_auc > auc:
            booster, params, auc = plain_booster, plain, plain_auc
    trials = pd.DataFrame(rows)
    spent = 0.0
    tuned_trial = None
    cut = False
    if budget is not None and budget.searches:
        search = tune(params, spec, inputs, budget, max_depth, fixed=set(overrides or {}))
        spent, cut = search.seconds, search.cut_by_clock
        trials = pd.concat([trials, search.trials], ignore_index=True)
        if search.booster is not None:
            tuned_trial = search.best_trial
            configs["tuned"] = (search.booster, search.params, search.valid_auc)
        if search.booster is not None and search.valid_auc > auc:
            booster, params, auc = search.booster, search.params, search.valid_auc
    kept_folds_auc = None
    if on_folds:
        by_folds = {c: folds_auc(p, spec, inputs, spec.seed) for c, (_, p, _) in configs.items()}
        names = {tuned_trial if c == "tuned" else c: a for c, a in by_folds.items()}
        trials["folds_auc"] = trials["trial"].map({n: a.mean for n, a in names.items()})
        trials["folds_auc_se"] = trials["trial"].map({n: a.se for n, a in names.items()})
        kept = kept_on_folds(by_folds)
        booster, params, auc = configs[kept]
        kept_folds_auc = by_folds[kept].mean
    return GBMFit(
        booster,
        params,
        booster.current_iteration(),
        fit_seconds,
        auc,
        trials,
        spent,
        shap_cost_us(booster, inputs.X_valid),
        kept_folds_auc,
        cut,
    )


def _searched(params: dict[str, Any]) -> dict[str, Any]:
    from training.tune import SEARCHED

    return {k: params.get(k) for k in SEARCHED}


@dataclass
class FitResult:
    model: PDModel
    best_iteration: int
    fit_seconds: float
    matrices: dict[str, np.ndarray]  # encoded X per split, reused by evaluation


def fit_pd_model(data: TrainingData, spec: LGBMSpec) -> FitResult:
    """The size-adapted booster alone, Platt-calibrated on validation (no tuning, no
    contenders): a quick model for tests and benchmarks of the model layer."""
    encoder = FeatureEncoder(data.features, data.categorical).fit(data.part("train")[0])
    matrices = {s: encoder.transform(data.part(s)[0]) for s in ("train", "valid", "oot")}
    inputs = BoosterInputs(
        data.features,
        data.categorical,
        data.directions,
        matrices["train"],
        data.part("train")[1],
        matrices["valid"],
        data.part("valid")[1],
    )
    gbm = fit_gbm(inputs, spec, None, max_depth=5)
    calibrator = PlattCalibrator().fit(
        gbm.booster.predict(matrices["valid"], raw_score=True), inputs.y_valid
    )
    model = PDModel(booster=gbm.booster, encoder=encoder, calibrator=calibrator)
    return FitResult(model, gbm.best_iteration, gbm.fit_seconds, matrices)
