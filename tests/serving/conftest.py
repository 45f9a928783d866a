"""A model registered in a throw-away MLflow store, and requests built from the small market."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from models.spec import LGBMSpec
from serving.audit import AuditStore
from serving.examples import request_from_frames

QUICK = LGBMSpec(num_boost_round=150, early_stopping_rounds=30)


@pytest.fixture(scope="session")
def registry(small_config, tmp_path_factory) -> dict[str, str]:
    """Env of an MLflow store holding ``techrisk-pd@champion`` trained on the small market."""
    from training.run import train

    tmp = tmp_path_factory.mktemp("registry")
    env = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
        "TECHRISK_ARTIFACT_DIR": str(tmp / "artifacts"),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        train(small_config, QUICK)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return env


@pytest.fixture(scope="session")
def sample_requests(small_market) -> list[dict]:
    """JSON bodies for the newest applications of the small market (one per firm)."""
    apps = (
        small_market["applications"]
        .sort_values("applied_on")
        .drop_duplicates("credit_code", keep="last")
    )
    return [request_from_frames(small_market, row) for _, row in apps.tail(40).iterrows()]


@pytest.fixture(scope="session")
def asgi_app():
    """``Service.to_asgi()`` once per session: a second app in one process would register
    BentoML's Prometheus metrics again. Each TestClient context runs the app's lifespan, so
    every test still gets a fresh service instance reading its own environment."""
    from serving.service import TechRiskService

    return TechRiskService.to_asgi()


@pytest.fixture
def service_env(registry, tmp_path, monkeypatch) -> str:
    for key, value in registry.items():
        monkeypatch.setenv(key, value)
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    monkeypatch.setenv("TECHRISK_DATABASE_URL", url)
    monkeypatch.delenv("TECHRISK_MODEL_URI", raising=False)
    return url


@pytest.fixture
def client(service_env, asgi_app) -> Iterator[TestClient]:
    AuditStore(service_env).create_schema()
    with TestClient(asgi_app) as c:
        yield c
