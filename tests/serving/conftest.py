"""The service app and its environment (the registry and requests come from tests/conftest)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from serving.audit import AuditStore
from tests.servers import api_key, bearer
from tests.serving.audit_records import pg_schema_url


@pytest.fixture(autouse=True)
def patient_audit_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 10 s audit deadline: tests of other behaviour must not fail because a shared, loaded
    machine took longer than the 2 s default. Tests of the deadline set their own."""
    monkeypatch.setenv("TECHRISK_AUDIT_DEADLINE_S", "10")


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
def new_key(tmp_path, monkeypatch) -> Callable[..., str]:
    """``new_key("auditor")``: a new API key in this test's keys file (``TECHRISK_API_KEYS``);
    no roles given, a scorer key."""
    monkeypatch.setenv("TECHRISK_API_KEYS", str(tmp_path / "api_keys.json"))
    return lambda *roles: api_key(os.environ, tmp_path, *roles)


@pytest.fixture
def client(service_env, asgi_app, new_key) -> Iterator[TestClient]:
    """The service in process, every request carrying a scorer key."""
    AuditStore(service_env).create_schema()
    with TestClient(asgi_app, headers=bearer(new_key())) as c:
        yield c


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh empty audit database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.db'}"
    else:
        yield from pg_schema_url()


@pytest.fixture
def store(url: str) -> Iterator[AuditStore]:
    audit = AuditStore(url)
    audit.create_schema()
    yield audit
    audit.close()
