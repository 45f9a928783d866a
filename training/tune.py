"""Tuning of the booster on the validation slice, with Optuna: a fixed number of trials,
cut short by a wall-clock cap.

Why Optuna and not LightGBM's own CV: the split is by time, so the honest yardstick is the
validation slice that follows the training rows, not random folds that mix past and future;
and a wall-clock cap needs a search that can stop between (and inside) trials. Optuna's
TPE sampler, seeded, proposes depth, leaves, ``min_child_samples``, learning rate, L1/L2
penalties and feature/bagging fractions; the monotone constraints are never searched. Each
trial stops early on the validation log-loss and is scored by validation AUC.

Why a count of trials and not a time budget: the trials a budget finishes depend on how busy
the machine is, so the same table and config gave different models an hour apart (UCI
credit-card AUC 0.6432, then 0.6393), and a model-risk reviewer could not rebuild the champion.
A count gives the same trials, and the same booster, on any machine. The clock is only a cap:
a trial still running at it is pruned by a LightGBM callback, so the search ends within one
boosting iteration of the cap, and a search the cap cut says so (``SearchResult.cut_by_clock``)
because its result then depends on the machine's speed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import optuna
import pandas as pd

from models.spec import LGBMSpec

#: The parameters the search proposes (and the trials table reports).
SEARCHED = (
    "max_depth",
    "num_leaves",
    "min_child_samples",
    "learning_rate",
    "lambda_l1",
    "lambda_l2",
    "feature_fraction",
    "bagging_fraction",
)
#: Cap on leaves whatever the depth: beyond it exact TreeSHAP cost grows with no gain here.
MAX_LEAVES = 64


@dataclass(frozen=True)
class Budget:
    """How much to search: ``trials`` trials, stopped early at ``seconds`` of wall clock."""

    trials: int
    seconds: float

    @property
    def searches(self) -> bool:
        return self.trials > 0 and self.seconds > 0


@dataclass
class SearchResult:
    booster: lgb.Booster | None  # best completed trial, None if none completed in time
    params: dict[str, Any]
    valid_auc: float
    trials: pd.DataFrame
    seconds: float
    best_trial: str | None = None  # the trials table's name of the best completed trial
    #: Fewer trials completed than the budget asked for: the cap stopped the search.
    cut_by_clock: bool = False


def _suggest(
    trial: optuna.Trial, base: dict[str, Any], max_depth: int, n_train: int
) -> dict[str, Any]:
    depth = trial.suggest_int("max_depth", 2, max_depth)
    leaves = trial.suggest_int("num_leaves", 4, min(2**max_depth, MAX_LEAVES))
    mcs = int(base["min_child_samples"])
    low = max(2, mcs // 4)
    high = max(min(mcs * 4, n_train // 4), low + 1)
    return {
        "max_depth": depth,
        "num_leaves": min(leaves, 2**depth),
        "min_child_samples": trial.suggest_int("min_child_samples", low, high, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.15, log=True),
        "lambda_l1": trial.suggest_float("lambda_l1", 1e-4, 10.0, log=True),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 50.0, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
    }


def tune(
    base: dict[str, Any],
    spec: LGBMSpec,
    inputs: Any,
    budget: Budget,
    max_depth: int,
    fixed: set[str] | frozenset[str] = frozenset(),
) -> SearchResult:
    """Search around ``base`` within ``budget``; ``fixed`` keys are not searched (the config's
    ``[lightgbm]`` overrides win over the search)."""
    from training.fit import train_booster, valid_auc

    start = time.perf_counter()
    deadline = start + budget.seconds
    best: dict[str, Any] = {"auc": -1.0, "booster": None, "params": dict(base), "trial": None}

    def past_deadline(_env: Any) -> None:
        if time.perf_counter() > deadline:
            raise optuna.TrialPruned("tuning budget spent")

    def objective(trial: optuna.Trial) -> float:
        if time.perf_counter() > deadline:
            trial.study.stop()
            raise optuna.TrialPruned("tuning budget spent")
        proposed = _suggest(trial, base, max_depth, len(inputs.y_train))
        params = {**base, **{k: v for k, v in proposed.items() if k not in fixed}}
        t0 = time.perf_counter()
        booster = train_booster(params, spec, inputs, callbacks=[past_deadline])
        auc = valid_auc(booster, inputs)
        trial.set_user_attr("seconds", time.perf_counter() - t0)
        if auc > best["auc"]:
            best.update(auc=auc, booster=booster, params=params, trial=str(trial.number))
        return auc

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=spec.seed)
    )
    study.optimize(objective, n_trials=budget.trials, timeout=budget.seconds, catch=())
    rows = [
        {
            "trial": str(t.number),
            "state": t.state.name,
            "valid_auc": t.value,
            "seconds": t.user_attrs.get("seconds"),
            **t.params,
        }
        for t in study.trials
    ]
    return SearchResult(
        best["booster"],
        best["params"],
        best["auc"],
        pd.DataFrame(rows, columns=["trial", "state", "valid_auc", "seconds", *SEARCHED]),
        time.perf_counter() - start,
        best["trial"],
        cut_by_clock=sum(t.state.name == "COMPLETE" for t in study.trials) < budget.trials,
    )
