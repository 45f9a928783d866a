"""One retraining run: data report → fit → calibrate → evaluate against baselines → MLflow.

The run registers the model as ``techrisk-pd``: alias ``champion`` when it is the first
model, ``challenger`` otherwise (promotion is a separate, gated step).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from features.registry import FAMILIES, REGISTRY
from models.packaging import has_alias, log_pd_model, set_alias
from models.pd_model import CohortColumns, PDModel
from models.reasons import FeatureMeta, ReasonBuilder, industry_medians
from models.spec import LGBMSpec
from training import metrics, plots, settings
from training.baselines import ScorecardBaseline, policy_points_score
from training.config import TrainConfig
from training.data_report import build_data_report
from training.dataset import TrainingData, load_training_data
from training.evaluate import by_product, flatten, pd_metrics, ranking_metrics
from training.fit import fit_pd_model
from training.model_card import render_model_card

#: Our feature table's cohort columns; a bank's table without them gets no percentiles.
COHORT_COLUMNS = CohortColumns(
    industry="firm_industry",
    revenue="fin_revenue",
    employees="staff_employees",
    age_years="firm_age_years",
)
SHAP_SAMPLE = 2_000


@dataclass
class RunResult:
    run_id: str
    model_version: str | None
    alias: str | None
    model: PDModel
    metrics: dict[str, float]
    contenders: dict[str, dict[str, float]]
    warnings: list[str]
    timings: dict[str, float] = field(default_factory=dict)


def reason_builder(features: list[str], X_train: np.ndarray) -> ReasonBuilder:
    """Labels and references for reason texts, from the registry and the training rows."""
    meta = {
        f: FeatureMeta(
            REGISTRY[f].family,
            REGISTRY[f].zh,
            REGISTRY[f].en,
            REGISTRY[f].unit,
            REGISTRY[f].labels,
            REGISTRY[f].direction,
            text=REGISTRY[f].text,
            long_text=REGISTRY[f].long_text,
            cap=REGISTRY[f].cap,
            label_texts=REGISTRY[f].label_texts,
        )
        for f in features
        if f in REGISTRY
    }
    industry = COHORT_COLUMNS.industry if COHORT_COLUMNS.industry in features else None
    return ReasonBuilder(
        features=features,
        meta=meta,
        families=FAMILIES,
        references=industry_medians(X_train, features, industry),
        industry_feature=industry,
    )


def _window(data: TrainingData) -> dict[str, str]:
    out = dict(data.split.describe())
    if data.dates is None:
        return out
    for name in ("train", "valid", "oot"):
        d = pd.to_datetime(data.dates[data.split.mask(name)])
        out[name] = f"{d.min():%Y-%m-%d} – {d.max():%Y-%m-%d}"
    return out


def _experiment(name: str) -> str:
    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    return mlflow.create_experiment(name, artifact_location=settings.artifact_location())


def train(
    config: TrainConfig,
    spec: LGBMSpec | None = None,
    step: Callable[[str], None] = lambda _msg: None,
) -> RunResult:
    """Run the whole training and log it; ``step`` reports progress to a console."""
    spec = spec or LGBMSpec()
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def mark(name: str) -> None:
        timings[name] = time.perf_counter() - started - sum(timings.values())

    step("reading the feature table")
    data = load_training_data(config)
    mark("load")

    step("data report and WoE scorecard baseline")
    train_X, train_y = data.part("train")
    scorecard = ScorecardBaseline(categorical=data.categorical, random_state=config.seed)
    scorecard.fit(train_X, train_y)
    slices = {
        name: data.part(name)[0].assign(**{config.label_column: data.part(name)[1]})
        for name in ("train", "valid", "oot")
    }
    report = build_data_report(
        slices,
        config.label_column,
        data.features,
        max_univariate_auc=config.max_univariate_auc,
        iv=scorecard.iv_,
    )
    excluded: list[str] = []
    if config.exclude_leaky and report.leaky_:
        excluded = list(report.leaky_)
        data = load_training_data(config.with_overrides(exclude=(*config.exclude, *excluded)))
        train_X, train_y = data.part("train")
        scorecard = ScorecardBaseline(categorical=data.categorical, random_state=config.seed)
        scorecard.fit(train_X, train_y)
    mark("report_and_scorecard")

    step("fitting LightGBM with monotone constraints")
    fit = fit_pd_model(data, spec)
    model = fit.model
    mark("fit")

    step("evaluating against the baselines")
    oot = data.split.mask("oot")
    y_oot = data.y[oot]
    scores = {s: model.score(fit.matrices[s]) for s in ("train", "valid", "oot")}
    champion = {
        s: by_product(
            data.y[data.split.mask(s)],
            scores[s].pd,
            data.product[data.split.mask(s)] if data.product is not None else None,
        )
        for s in ("valid", "oot")
    }
    oot_X = data.part("oot")[0]
    contenders = {
        "LightGBM (champion candidate)": champion["oot"]["all"],
        "WoE scorecard (optbinning)": pd_metrics(y_oot, scorecard.predict_pd(oot_X)),
    }
    points = policy_points_score(oot_X)
    if points is not None:
        contenders["科技型中小企业 policy points"] = ranking_metrics(y_oot, points)
    if data.truth is not None:
        contenders["oracle (true PD)"] = pd_metrics(y_oot, data.truth[oot])
    grades = metrics.grade_default_rates(scores["oot"].grade, y_oot, scores["oot"].pd)
    psi_score = metrics.psi(scores["train"].score, scores["oot"].score)

    if all(c in data.features for c in vars(COHORT_COLUMNS).values()):
        model.fit_cohorts(fit.matrices["train"], scores["train"].pd, COHORT_COLUMNS)
    model.reasons = reason_builder(data.features, fit.matrices["train"])
    window = _window(data)
    run_metrics = {
        **flatten("valid", champion["valid"]),
        **flatten("oot", champion["oot"]),
        "oot_psi_score": psi_score,
        "oot_grades_monotone": float(metrics.is_monotone(grades["default_rate"])),
        "best_iteration": float(fit.best_iteration),
        "fit_seconds": fit.fit_seconds,
    }
    for label, values in contenders.items():
        key = {
            "WoE scorecard (optbinning)": "scorecard",
            "oracle (true PD)": "oracle",
            "科技型中小企业 policy points": "policy_points",
        }.get(label)
        if key:
            run_metrics.update({f"oot_{key}_{k}": v for k, v in values.items()})
    model.info = {
        "window": window,
        "features": data.features,
        "metrics": {k: round(v, 6) for k, v in run_metrics.items()},
        "excluded_leaky": excluded,
    }
    mark("evaluate")

    step("logging to MLflow")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = settings.tracking_uri()
    settings.ensure_local_store(uri)
    mlflow.set_tracking_uri(uri)
    experiment_id = _experiment(config.experiment)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_params(
            {
                "data_path": str(config.path),
                "rows_train": int(data.split.mask("train").sum()),
                "rows_valid": int(data.split.mask("valid").sum()),
                "rows_oot": int(oot.sum()),
                "n_features": len(data.features),
                "categorical": ",".join(data.categorical) or "none",
                **data.split.describe(),
                **{f"lgbm_{k}": v for k, v in spec.to_dict()["params"].items()},
                "num_boost_round": spec.num_boost_round,
                "early_stopping_rounds": spec.early_stopping_rounds,
                "seed": spec.seed,
            }
        )
        mlflow.log_metrics(run_metrics)
        mlflow.log_dict(report.to_dict(), "data_report/report.json")
        mlflow.log_text(report.to_markdown(), "data_report/report.md")
        coverage = {
            f: {
                "coverage": float(data.frame[f].notna().mean()),
                "direction": int(data.directions.get(f, 0)),
            }
            for f in data.features
        }
        mlflow.log_dict(coverage, "features.json")
        mlflow.log_dict(model.master.table(model.scale), "scale/grades.json")
        mlflow.log_text(grades.to_csv(index=False), "evaluation/oot_grades.csv")
        card = render_model_card(
            model=model,
            name=config.registered_name,
            window=window,
            rows={s: int(data.split.mask(s).sum()) for s in ("train", "valid", "oot")},
            contenders=contenders,
            per_product={k: v for k, v in champion["oot"].items()},
            grades=grades,
            psi_score=psi_score,
            data_warnings=report.warnings_,
            excluded=excluded,
        )
        mlflow.log_text(card, "model_card.md")
        _log_figures(
            model,
            fit.matrices["oot"],
            y_oot,
            scores["oot"].pd,
            contenders,
            grades,
            scorecard.predict_pd(oot_X),
            points,
            data,
        )
        info = log_pd_model(model, data.part("oot")[0], config.registered_name)
        version = getattr(info, "registered_model_version", None)
        alias = None
        if version is not None:
            alias = "challenger" if has_alias(config.registered_name, "champion") else "champion"
            set_alias(config.registered_name, version, alias)
            mlflow.set_tag("alias", alias)
    mark("mlflow")
    return RunResult(
        run.info.run_id,
        None if version is None else str(version),
        alias,
        model,
        run_metrics,
        contenders,
        report.warnings_,
        timings,
    )


def _log_figures(
    model: PDModel,
    X_oot: np.ndarray,
    y_oot: np.ndarray,
    pd_oot: np.ndarray,
    contenders: dict[str, Any],
    grades: pd.DataFrame,
    scorecard_pd: np.ndarray,
    points: np.ndarray | None,
    data: TrainingData,
) -> None:
    import matplotlib.pyplot as plt

    curves = {"LightGBM": pd_oot, "WoE scorecard": scorecard_pd}
    if points is not None:
        curves["policy points"] = points
    rng = np.random.default_rng(0)
    sample = rng.choice(len(X_oot), size=min(SHAP_SAMPLE, len(X_oot)), replace=False)
    figures = {
        "plots/roc_oot.png": plots.roc(y_oot, curves),
        "plots/ks_oot.png": plots.ks(y_oot, pd_oot),
        "plots/calibration_oot.png": plots.calibration(y_oot, pd_oot),
        "plots/grade_default_rates_oot.png": plots.grade_rates(grades),
        "plots/shap_summary_oot.png": plots.shap_summary(
            model.contributions(X_oot[sample]), X_oot[sample], data.features
        ),
    }
    for path, fig in figures.items():
        mlflow.log_figure(fig, path)
        plt.close(fig)
