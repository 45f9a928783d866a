"""Shared fixtures: one small synthetic market, its feature table and a model fitted on it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

from features.build import build_feature_table
from features.store import write_feature_table
from synthetic import generate_market, write_market

# Deterministic property tests: the same examples on every run and machine.
settings.register_profile("techrisk", derandomize=True, deadline=None)
settings.load_profile("techrisk")

SMALL_FIRMS = 15_000
#: Session fixtures that generate the small market or train on it: a test using any of them
#: waits for a 15,000-firm market and a model fit, so it belongs to the slow tier.
SLOW_FIXTURES = frozenset(
    {
        "small_market",
        "small_market_dir",
        "small_table_path",
        "small_config",
        "small_fit",
        "registry",
        "sample_requests",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slow`` every test that needs the small market or a trained model.

    Declared once here, so a new test on these fixtures joins the slow tier by itself; tests
    slow for other reasons (a real server, a Bento build) carry the marker explicitly.
    """
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def mlflow_env(folder: Path) -> dict[str, str]:
    """A throw-away MLflow store (SQLite) and artifact folder under ``folder``."""
    return {
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
        "TECHRISK_ARTIFACT_DIR": str(folder / "artifacts"),
    }


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """Set variables for a session-scoped fixture (monkeypatch is function-scoped)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


#: A quick fit for tests that need a registered model, not a good one.
QUICK_SPEC = dict(num_boost_round=150, early_stopping_rounds=30)


@pytest.fixture(scope="session")
def registry(small_config, tmp_path_factory) -> dict[str, str]:
    """Env of an MLflow store holding ``techrisk-pd@champion`` trained on the small market."""
    from models.spec import LGBMSpec
    from training.run import train

    env = mlflow_env(tmp_path_factory.mktemp("registry"))
    with environment(env):
        train(small_config, LGBMSpec(**QUICK_SPEC))
    return env


@pytest.fixture(scope="session")
def sample_requests(small_market) -> list[dict]:
    """JSON bodies for the newest applications of the small market (one per firm)."""
    from serving.examples import request_from_frames

    apps = (
        small_market["applications"]
        .sort_values("applied_on")
        .drop_duplicates("credit_code", keep="last")
    )
    return [request_from_frames(small_market, row) for _, row in apps.tail(40).iterrows()]


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
