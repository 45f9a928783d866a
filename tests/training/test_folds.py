"""The champion of a small table without dates is chosen on folds over train + valid, never
on the OOT slice, and its booster also starts from the plain script's parameters; a table
with dates keeps the validation slice as its judge."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd

from tests.training.test_stages import QUICK, config_for, kept_on_folds_row
from training.fit import (
    BoosterInputs,
    FoldAUC,
    fit_gbm,
    folds_auc,
    kept_on_folds,
    train_booster,
    valid_auc,
)
from training.folds import FOLD_MAX_ROWS, FoldChoice, uses_folds
from training.prepare import prepare
from training.run import fold_stage, train
from training.tune import Budget


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
    inputs = prepared.booster_inputs()
    gbm = fit_gbm(inputs, QUICK, None, max_depth=5)
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


def test_the_kept_booster_configuration_is_the_simplest_within_one_standard_error() -> None:
    aucs = {
        "size-adapted": FoldAUC(0.700, 0.01),
        "plain-start": FoldAUC(0.700, 0.01),
        "tuned": FoldAUC(0.705, 0.01),
    }
    assert kept_on_folds(aucs) == "plain-start"
    assert kept_on_folds({**aucs, "plain-start": FoldAUC(0.69, 0.01)}) == "size-adapted"
    assert kept_on_folds({**aucs, "tuned": FoldAUC(0.72, 0.01)}) == "tuned"
    assert kept_on_folds({**aucs, "tuned": FoldAUC(0.72, 0.03)}) == "plain-start"
    assert kept_on_folds({"size-adapted": FoldAUC(0.70, 0.0)}) == "size-adapted"


def _small_inputs(tmp_path) -> BoosterInputs:
    return prepare(config_for(tmp_path, 1_000, seed=6)).booster_inputs()


def test_folds_choose_the_booster_configuration_of_a_small_table(tmp_path) -> None:
    inputs = _small_inputs(tmp_path)
    gbm = fit_gbm(inputs, QUICK, Budget(trials=10, seconds=60.0), max_depth=4, on_folds=True)
    kept = kept_on_folds_row(gbm.trials)
    assert gbm.folds_auc == kept["folds_auc"] and gbm.valid_auc == kept["valid_auc"]
    assert folds_auc(gbm.params, QUICK, inputs, QUICK.seed).mean == gbm.folds_auc
    assert gbm.trials["folds_auc_se"].dropna().between(0, 0.1).all()


def test_the_validation_slice_does_not_choose_the_booster_of_a_small_table(
    tmp_path, monkeypatch
) -> None:
    """Folds that rank the configurations against validation win over it."""
    inputs = _small_inputs(tmp_path)

    def against_validation(params, spec, inputs_, seed) -> FoldAUC:
        return FoldAUC(1.0 - valid_auc(train_booster(params, spec, inputs_), inputs_), 0.0)

    monkeypatch.setattr("training.fit.folds_auc", against_validation)
    gbm = fit_gbm(inputs, QUICK, None, max_depth=4, on_folds=True)
    starts = gbm.trials.set_index("trial")["valid_auc"]
    assert starts["size-adapted"] != starts["plain-start"]
    assert gbm.valid_auc == starts.min() < starts.max()
    assert gbm.folds_auc == 1.0 - starts.min()
