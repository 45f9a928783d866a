"""Hot reload under load: a real ``bentoml serve`` follows ``@champion`` forth and back.

Several clients score continuously while the alias moves to version 2 (picked up by the
poll) and back to version 1 (picked up at once by ``/admin/reload``). No request may fail;
each client sees the version switch once each way; every audit row names the version its
response named.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest
from mlflow.tracking import MlflowClient

from benchmarks.load import UNLIMITED_RATE
from serving.audit import AuditStore
from tests.conftest import environment
from tests.servers import api_key, bearer, bentoml_serve

REPO = Path(__file__).resolve().parents[2]
CLIENTS = 4


def _versions_switch_once_each_way(seen: list[str]) -> bool:
    """``1…1 2…2 1…1``: the runs of equal versions are exactly 1, 2, 1."""
    runs = [v for i, v in enumerate(seen) if i == 0 or seen[i - 1] != v]
    return runs == ["1", "2", "1"]


@pytest.fixture
def own_registry(registry, tmp_path) -> dict[str, str]:
    """A copy of the session's MLflow store (artifacts shared, read-only), so moving aliases
    here leaves the other tests' registry as it was; plus a version 2 of the same model."""
    source = registry["MLFLOW_TRACKING_URI"].removeprefix("sqlite:///")
    shutil.copy(source, tmp_path / "mlflow.db")
    env = {**registry, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    with environment(env):
        client = MlflowClient(env["MLFLOW_TRACKING_URI"])
        first = client.get_model_version_by_alias("techrisk-pd", "champion")
        assert str(first.version) == "1"
        client.create_model_version("techrisk-pd", first.source, run_id=first.run_id)
    return env


def test_alias_moves_forth_and_back_without_a_failed_request(
    own_registry, sample_requests, tmp_path
) -> None:
    audit_url = f"sqlite:///{tmp_path / 'audit.db'}"
    env = {
        **os.environ,
        **own_registry,
        "TECHRISK_DATABASE_URL": audit_url,
        "TECHRISK_RELOAD_S": "0.5",
        **UNLIMITED_RATE,  # the clients score as fast as they can
    }
    env.pop("TECHRISK_MODEL_URI", None)
    scorer, admin = api_key(env, tmp_path), api_key(env, tmp_path, "admin")
    registry = MlflowClient(own_registry["MLFLOW_TRACKING_URI"])
    stop = threading.Event()
    seen: list[list[tuple[int, str, str]]] = [[] for _ in range(CLIENTS)]

    with bentoml_serve("serving.service:TechRiskService", env, REPO) as base:

        def fire(k: int) -> None:
            with httpx.Client(base_url=base, timeout=60, headers=bearer(scorer)) as http:
                i = k
                while not stop.is_set():
                    r = http.post("/score", json=sample_requests[i % len(sample_requests)])
                    body = r.json() if r.status_code == 200 else {}
                    version = body.get("model", {}).get("version", "")
                    seen[k].append((r.status_code, body.get("request_id", r.text), version))
                    i += CLIENTS

        def served(version: str) -> bool:
            return all(s and s[-1][2] == version for s in seen)

        threads = [threading.Thread(target=fire, args=(k,)) for k in range(CLIENTS)]
        for t in threads:
            t.start()
        try:
            _wait(lambda: served("1"), "first answers from version 1")
            registry.set_registered_model_alias("techrisk-pd", "champion", "2")
            _wait(lambda: served("2"), "the poll to switch to version 2")
            registry.set_registered_model_alias("techrisk-pd", "champion", "1")
            with httpx.Client(base_url=base, timeout=60) as http:
                refused = http.post("/admin/reload", json={}, headers=bearer(scorer))
                answer = http.post("/admin/reload", json={}, headers=bearer(admin))
            _wait(lambda: served("1"), "answers from version 1 again")
            time.sleep(1.0)
        finally:
            stop.set()
            for t in threads:
                t.join()

    assert refused.status_code == 403
    assert answer.status_code == 200, answer.text
    moved = answer.json()["models"][0]
    # The poll may have beaten the admin call to it; either way version 1 is served.
    assert moved["version"] == "1"
    results = [r for client in seen for r in client]
    failed = [r for r in results if r[0] != 200]
    assert not failed, failed[:3]
    for client in seen:
        assert _versions_switch_once_each_way([v for _, _, v in client]), [v for _, _, v in client]
    store = AuditStore(audit_url)
    try:
        recorded = {r.request_id: r.model_version for r in store.list(limit=100_000)}
    finally:
        store.close()
    assert len(recorded) == len(results)
    assert all(recorded[rid] == version for _, rid, version in results)
    counts = {v: sum(1 for *_, x in results if x == v) for v in ("1", "2")}
    print(f"hot reload: {len(results)} requests, 0 failed, per version {counts}")


def _wait(condition, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout_s:.0f} s for {what}")
        time.sleep(0.1)
