"""One training run as stages: prepare → fit (tune) → evaluate → choose champion → assemble →
log and register. Each stage is a function of its own module and can be run and tested alone;
this module only wires them and times them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.pd_model import PDModel
from models.scorecard import WoEScorecard
from models.spec import LGBMSpec
from training import metrics
from training.assemble import assemble
from training.baselines import policy_points_score
from training.champion import SERVABLE, Candidate, candidates, champion_model, choose_champion
from training.config import ConfigError, ModelConfig, TrainConfig
from training.dataset import TrainingData
from training.evaluate import LABELS, Evaluation, by_product, evaluate, flatten
from training.fit import GBMFit, fit_gbm
from training.folds import FoldChoice, choose_on_folds, uses_folds
from training.model_card import render_model_card
from training.prepare import Prepared, fit_scorecard, prepare
from training.register import figures, log_and_register
from training.tune import Budget

#: Optuna trials when the config gives none: about 85 s on the demo's 100 k rows on 2 cores
#: (10 seeded random starts, then TPE around the best of them).
DEFAULT_TUNE_TRIALS = 15
#: The wall clock that cuts the search short when the config gives none: far above what the
#: default trials take, so it only stops a search on a machine too slow to finish them.
DEFAULT_TUNE_CAP_SECONDS = 600.0


@dataclass
class RunResult:
    run_id: str
    model_version: str | None
    alias: str | None
    model: PDModel
    metrics: dict[str, float]
    evaluation: Evaluation
    champion: str  # contender identifier: "gbm", "scorecard" or "blend"
    warnings: list[str]
    #: LightGBM parameters of the booster kept (size-adapted or tuned), constraints included.
    gbm_params: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)


def tuning_budget(model: ModelConfig) -> Budget:
    """The config's trials and cap, each defaulted on its own."""
    return Budget(
        DEFAULT_TUNE_TRIALS if model.tune_trials is None else model.tune_trials,
        DEFAULT_TUNE_CAP_SECONDS if model.tune_seconds is None else model.tune_seconds,
    )


def tuning_sentence(gbm: GBMFit, budget: Budget, seed: int) -> str:
    """What the model card says of the booster's search, and whether a rerun gives the same
    booster."""
    if not budget.searches:
        return "The booster was not tuned ([tuning] trials or seconds is 0)."
    if gbm.tune_cut_by_clock:
        return (
            f"Tuning stopped at its {budget.seconds:g} s cap after {gbm.trials_done} of "
            f"{budget.trials} Optuna trials: training again may give a different booster."
        )
    return (
        f"The booster's parameters were searched by {budget.trials} Optuna trials (TPE, seed "
        f"{seed}) on the validation slice, all completed: the same table and config train the "
        "same booster again."
    )


def _cut_warning(gbm: GBMFit, budget: Budget) -> list[str]:
    """Say so when the cap stopped the search: the model then depends on the machine's speed."""
    if not gbm.tune_cut_by_clock:
        return []
    return [
        f"tuning stopped at its {budget.seconds:g} s cap ([tuning] seconds) after "
        f"{gbm.trials_done} of {budget.trials} trials: another machine, or this one when "
        "busier, would train a different model; raise the cap or lower [tuning] trials to make "
        "the run reproducible"
    ]


def _window(data: TrainingData) -> dict[str, str]:
    out = dict(data.split.describe())
    if data.dates is None:
        return out
    for name in ("train", "valid", "oot"):
        d = pd.to_datetime(data.dates[data.split.mask(name)])
        out[name] = f"{d.min():%Y-%m-%d} – {d.max():%Y-%m-%d}"
    return out


def fit_stage(prepared: Prepared, config: TrainConfig, spec: LGBMSpec, budget: Budget) -> GBMFit:
    """The size-adapted booster, tuned within ``budget`` (the config's, defaults filled in)."""
    data = prepared.data
    inputs = prepared.booster_inputs()
    return fit_gbm(
        inputs,
        spec,
        budget,
        config.model.max_depth,
        dict(config.model.lightgbm),
        on_folds=uses_folds(data.dates is not None, len(inputs.y_train) + len(inputs.y_valid)),
    )


def fold_stage(prepared: Prepared, gbm: GBMFit, seed: int) -> FoldChoice | None:
    """The champion chosen on folds over train + valid, for a small table without dates
    (``training/folds.py``); None: validation chooses."""
    data = prepared.data
    fitting = data.split.mask("train") | data.split.mask("valid")
    if prepared.scorecard is None or not uses_folds(data.dates is not None, int(fitting.sum())):
        return None
    return choose_on_folds(
        np.vstack([prepared.matrices["train"], prepared.matrices["valid"]]),
        np.concatenate([prepared.y("train"), prepared.y("valid")]),
        data.features,
        data.categorical,
        gbm.params,
        gbm.best_iteration,
        lambda frame, y: fit_scorecard(frame, y, data, seed)[0],
        seed,
    )


def evaluate_stage(
    prepared: Prepared, gbm: GBMFit, blend_weight: float | None = None
) -> tuple[dict[str, Candidate], Evaluation, list[str], WoEScorecard | None]:
    """Servable contenders, every contender's validation and OOT figures, notes on dropped
    contenders, and the scorecard as served (plain arrays). ``blend_weight``: chosen on folds,
    or None to choose it on validation."""
    data = prepared.data
    woe = None
    if prepared.scorecard is not None:
        train_frame = pd.DataFrame(prepared.matrices["train"], columns=data.features)
        woe = prepared.scorecard.to_woe_scorecard(train_frame)
    cands, notes = candidates(gbm, woe, prepared.matrices, prepared.y("valid"), blend_weight)
    if not cands:
        raise ConfigError(
            f"no contender can be served from {int(data.split.mask('train').sum())} training "
            "rows: " + "; ".join(notes or ["no scorecard and no booster"])
        )
    splits = ("valid", "oot")
    evaluation = evaluate(
        {c: {s: cand.pd(s) for s in splits} for c, cand in cands.items()},
        {s: prepared.y(s) for s in splits},
        {s: policy_points_score(data.part(s)[0]) for s in splits},
        {s: None if data.truth is None else data.truth[data.split.mask(s)] for s in splits},
    )
    return cands, evaluation, notes, woe


def train(
    config: TrainConfig,
    spec: LGBMSpec | None = None,
    step: Callable[[str], None] = lambda _msg: None,
    *,
    register: bool = True,
    tags: dict[str, str] | None = None,
) -> RunResult:
    """Run every stage and log the run; ``step`` reports progress to a console.

    ``register=False`` logs the model to the run without adding a registry version (a dry
    run); ``tags`` are set on the MLflow run. The config's ``seed`` seeds the whole run: the
    split, the scorecard's binning, the folds and, unless ``spec`` brings its own, the booster
    and its search, so the ``seed`` the run logs is the one every stage used.
    """
    spec = spec or LGBMSpec(seed=config.seed)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def mark(name: str) -> None:
        timings[name] = time.perf_counter() - started - sum(timings.values())

    prepared = prepare(config, step)
    data, matrices = prepared.data, prepared.matrices
    mark("prepare")

    step("fitting and tuning LightGBM with monotone constraints")
    budget = tuning_budget(config.model)
    gbm = fit_stage(prepared, config, spec, budget)
    mark("fit")

    step("evaluating the contenders")
    folds = fold_stage(prepared, gbm, config.seed)
    cands, evaluation, notes, woe = evaluate_stage(
        prepared, gbm, None if folds is None else folds.blend_weight
    )
    if folds is not None and set(cands) == set(SERVABLE):
        champion = folds.champion
    else:
        folds, champion = None, choose_champion(evaluation.valid)
    model = champion_model(cands[champion], prepared.encoder, gbm, woe)
    scores = {s: model.score(matrices[s]) for s in ("train", "valid", "oot")}
    product = {
        s: data.product[data.split.mask(s)] if data.product is not None else None
        for s in ("valid", "oot")
    }
    per_product = {s: by_product(prepared.y(s), scores[s].pd, product[s]) for s in product}
    y_oot = prepared.y("oot")
    grades = metrics.grade_default_rates(scores["oot"].grade, y_oot, scores["oot"].pd)
    psi_score = metrics.psi(scores["train"].score, scores["oot"].score)
    mark("evaluate")

    run_metrics = {
        **flatten("valid", per_product["valid"]),
        **flatten("oot", per_product["oot"]),
        **evaluation.metrics(),
        "oot_psi_score": psi_score,
        "oot_grades_monotone": float(metrics.is_monotone(grades["default_rate"])),
        "best_iteration": float(gbm.best_iteration),
        "fit_seconds": gbm.fit_seconds,
        "tune_seconds": gbm.tune_seconds,
        "tune_trials": float(gbm.trials_done),
        "tune_cut_by_clock": float(gbm.tune_cut_by_clock),
        "gbm_valid_auc": gbm.valid_auc,
        **({} if gbm.folds_auc is None else {"gbm_folds_auc": gbm.folds_auc}),
        "gbm_shap_us_per_row": gbm.shap_us_per_row,
        "champion_blend_weight": model.blend_weight,
        **({} if folds is None else folds.metrics()),
    }
    window = _window(data)
    warnings = [*prepared.warnings, *notes, *_cut_warning(gbm, budget)]
    assemble(
        model,
        matrices["train"],
        scores["train"].pd,
        {
            "window": window,
            "features": data.features,
            "champion": champion,
            "metrics": {k: round(v, 6) for k, v in run_metrics.items()},
            "excluded_leaky": prepared.excluded,
        },
        products_train=(
            data.product[data.split.mask("train")] if data.product is not None else None
        ),
    )
    mark("assemble")

    step("logging to MLflow")
    points = policy_points_score(data.part("oot")[0])
    rows = {s: int(data.split.mask(s).sum()) for s in ("train", "valid", "oot")}
    card = render_model_card(
        model=model,
        name=config.registered_name,
        window=window,
        rows=rows,
        contenders=evaluation.labelled("oot", champion),
        per_product=per_product["oot"],
        grades=grades,
        psi_score=psi_score,
        data_warnings=warnings,
        excluded=prepared.excluded,
        label_column=config.label_column,
        label_description=config.label_description,
        positive_label=config.positive_label,
        products=None if data.product is None else sorted(set(data.product)),
        has_oracle=data.truth is not None,
        has_policy_points=points is not None,
        chosen_on="the validation slice"
        if folds is None
        else f"{folds.folds} stratified folds over train + valid (out-of-fold AUC)",
        tuning=tuning_sentence(gbm, budget, spec.seed),
    )
    curves = {LABELS[c]: cand.pd("oot") for c, cand in cands.items()}
    if points is not None:
        curves["policy points"] = points
    chosen = {k: v for k, v in gbm.params.items() if k != "monotone_constraints"}
    registered = log_and_register(
        experiment=config.experiment,
        registered_name=config.registered_name,
        model=model,
        params={
            "data_path": str(config.path),
            **{f"rows_{s}": n for s, n in rows.items()},
            "n_features": len(data.features),
            "categorical": ",".join(data.categorical) or "none",
            **data.split.describe(),
            **{f"lgbm_{k}": v for k, v in chosen.items()},
            "num_boost_round": spec.num_boost_round,
            "early_stopping_rounds": spec.early_stopping_rounds,
            "seed": spec.seed,
            "champion": champion,
            "champion_chosen_on": "validation" if folds is None else f"{folds.folds} folds",
            "tune_trials_asked": budget.trials,
            "tune_cap_seconds": budget.seconds,
            "tune_max_depth": config.model.max_depth,
        },
        run_metrics=run_metrics,
        dicts={
            "data_report/report.json": prepared.report.to_dict(),
            "features.json": {
                f: {
                    "coverage": float(data.frame[f].notna().mean()),
                    "direction": int(data.directions.get(f, 0)),
                }
                for f in data.features
            },
            "scale/grades.json": model.master.table(model.scale),
            "evaluation/contenders.json": {"valid": evaluation.valid, "oot": evaluation.oot},
        },
        texts={
            "data_report/report.md": prepared.report.to_markdown(),
            "evaluation/oot_grades.csv": grades.to_csv(index=False),
            "tuning/trials.csv": gbm.trials.to_csv(index=False),
            "model_card.md": card,
        },
        figures=figures(
            model, matrices["oot"], y_oot, curves, scores["oot"].pd, grades, data.features
        ),
        example=data.part("oot")[0],
        register=register,
        tags=tags,
    )
    mark("mlflow")
    return RunResult(
        registered.run_id,
        registered.model_version,
        registered.alias,
        model,
        run_metrics,
        evaluation,
        champion,
        warnings,
        gbm.params,
        timings,
    )
