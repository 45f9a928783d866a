"""Stage 6 of a run: log everything to MLflow and register the champion.

The run registers the model as ``techrisk-pd`` (or the config's name): alias ``champion`` when
it is the first model, ``challenger`` otherwise (promotion is a separate, gated step). A run
that must leave the registry unchanged (``techrisk retrain --dry-run``) logs the model to its
run only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from models.packaging import has_alias, log_pd_model, set_alias
from models.pd_model import PDModel
from techrisk_base import settings
from training import plots

SHAP_SAMPLE = 2_000


@dataclass
class Registered:
    run_id: str
    model_version: str | None
    alias: str | None


def _experiment(name: str) -> str:
    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    return mlflow.create_experiment(name, artifact_location=settings.artifact_location())


def log_and_register(
    *,
    experiment: str,
    registered_name: str,
    model: PDModel,
    params: dict[str, Any],
    run_metrics: dict[str, float],
    dicts: dict[str, Any],
    texts: dict[str, str],
    figures: dict[str, Any],
    example: pd.DataFrame,
    register: bool = True,
    tags: dict[str, str] | None = None,
) -> Registered:
    """One MLflow run: params, metrics, JSON and text artifacts, figures, then the model.

    ``tags`` are set first, so a run that fails half-way still says what it was.
    """
    import matplotlib.pyplot as plt

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = settings.tracking_uri()
    settings.ensure_local_store(uri)
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run(experiment_id=_experiment(experiment), tags=tags) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(run_metrics)
        for path, value in dicts.items():
            mlflow.log_dict(value, path)
        for path, text in texts.items():
            mlflow.log_text(text, path)
        for path, fig in figures.items():
            mlflow.log_figure(fig, path)
            plt.close(fig)
        info = log_pd_model(model, example, registered_name if register else None)
        version = getattr(info, "registered_model_version", None)
        alias = None
        if version is not None:
            alias = "challenger" if has_alias(registered_name, "champion") else "champion"
            set_alias(registered_name, version, alias)
            mlflow.set_tag("alias", alias)
    return Registered(run.info.run_id, None if version is None else str(version), alias)


def figures(
    model: PDModel,
    X_oot: np.ndarray,
    y_oot: np.ndarray,
    curves: dict[str, np.ndarray],
    champion_pd: np.ndarray,
    grades: pd.DataFrame,
    features: list[str],
) -> dict[str, Any]:
    """The run's plots: ROC of every contender, and the champion's KS, calibration, grades
    and contribution summary on a sample of OOT rows."""
    rng = np.random.default_rng(0)
    sample = rng.choice(len(X_oot), size=min(SHAP_SAMPLE, len(X_oot)), replace=False)
    return {
        "plots/roc_oot.png": plots.roc(y_oot, curves),
        "plots/ks_oot.png": plots.ks(y_oot, champion_pd),
        "plots/calibration_oot.png": plots.calibration(y_oot, champion_pd),
        "plots/grade_default_rates_oot.png": plots.grade_rates(grades),
        "plots/shap_summary_oot.png": plots.shap_summary(
            model.contributions(X_oot[sample]), X_oot[sample], features
        ),
    }
