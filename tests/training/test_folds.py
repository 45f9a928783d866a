"""The champion of a small table without dates is chosen on folds over train + valid, never
on the OOT slice, and its booster also starts from the plain script's parameters; a table
with dates keeps the validation slice as its judge."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd

from tests.training.test_stages import QUICK, config_for
from training.fit import BoosterInputs, fit_gbm
from training.folds import FOLD_MAX_ROWS, FoldChoice, uses_folds
from training.prepare import prepare
from training.run import fold_stage, train


def test_the_fold_choice_names_the_best_weight_and_prefers_the_simpler_on_ties() -> None:
    weights = (0.0, 0.5, 1.0)
    assert FoldChoice(weights, (0.80, 0.80, 0.79), 5).champion == "scorecard"
    assert FoldChoice(weights, (0.70, 0.80, 0.80), 5).champion == "blend"
    choice = FoldChoice(weights, (0.70, 0.75, 0.80), 5)
    assert choice.champion == "gbm" and choice.blend_weight == 0.5
    assert choice.metrics() == {
        "folds": 5.0,
        "folds_gbm_auc": 0.80,
        "folds_scorecard_auc": 0.70,
        "folds_blend_auc": 0.75,
    }


def test_only_small_tables_without_dates_use_folds() -> None:
    assert uses_folds(has_dates=False, n_train_valid=1_000)
    assert not uses_folds(has_dates=True, n_train_valid=1_000)
    assert not uses_folds(has_dates=False, n_train_valid=FOLD_MAX_ROWS + 1)


def test_the_fold_choice_never_reads_the_oot_slice(tmp_path) -> None:
    prepared = prepare(config_for(tmp_path, 1_000, seed=3))
    d, m = prepared.data, prepared.matrices
    inputs = BoosterInputs(
        d.features,
        d.categorical,
        d.directions,
        m["train"],
        prepared.y("train"),
        m["valid"],
        prepared.y("valid"),
    )
    gbm = fit_gbm(inputs, QUICK, 0, max_depth=5)
    before = fold_stage(prepared, gbm, seed=3)
    oot = d.split.mask("oot")
    d.y[oot] = 1 - d.y[oot]
    m["oot"][:] = np.nan
    assert fold_stage(prepared, gbm, seed=3) == before
    assert before is not None and before.folds == 5


def test_a_small_table_without_dates_takes_the_champion_the_folds_name(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("TECHRISK_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    result = train(config_for(tmp_path, 1_000, seed=5), QUICK)
    m = result.metrics
    by_folds = max(("scorecard", "blend", "gbm"), key=lambda c: m[f"folds_{c}_auc"])
    assert result.champion == by_folds
    if result.champion == "blend":
        assert 0 < result.model.blend_weight < 1
    card = mlflow.artifacts.load_text(f"runs:/{result.run_id}/model_card.md")
    assert "chosen among the contenders on 5 stratified folds over train + valid" in card
    assert mlflow.get_run(result.run_id).data.params["champion_chosen_on"] == "5 folds"
    trials = pd.read_csv(
        mlflow.artifacts.download_artifacts(f"runs:/{result.run_id}/tuning/trials.csv")
    )
    assert list(trials["trial"][:2]) == ["size-adapted", "plain-start"]
