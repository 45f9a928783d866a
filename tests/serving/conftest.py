"""The service app and its environment (the registry and requests come from tests/conftest)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from serving.audit import AuditStore


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
