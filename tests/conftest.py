"""Shared fixtures: one small synthetic market, its feature table and a model fitted on it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

from features.build import build_feature_table
from features.store import write_feature_table
from features.synthetic import generate_market, write_market

# Deterministic property tests: the same examples on every run and machine.
settings.register_profile("techrisk", derandomize=True, deadline=None)
settings.load_profile("techrisk")

SMALL_FIRMS = 15_000


@pytest.fixture(scope="session")
def small_market() -> dict[str, pd.DataFrame]:
    return generate_market(n_firms=SMALL_FIRMS, seed=7)


@pytest.fixture(scope="session")
def small_market_dir(small_market, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("market")
    write_market(small_market, out)
    return out


@pytest.fixture(scope="session")
def small_table_path(small_market, small_market_dir) -> Path:
    path = small_market_dir.parent / "features.parquet"
    write_feature_table(build_feature_table(small_market), path)
    return path


@pytest.fixture(scope="session")
def small_config(small_table_path, small_market_dir):
    from training.config import TrainConfig

    return TrainConfig(path=small_table_path, truth_path=small_market_dir / "truth.parquet")


@pytest.fixture(scope="session")
def small_fit(small_config):
    """A model fitted on the small market without MLflow (fast, for model-level tests)."""
    from models.spec import LGBMSpec
    from training.dataset import load_training_data
    from training.fit import fit_pd_model

    data = load_training_data(small_config)
    return data, fit_pd_model(data, LGBMSpec())
