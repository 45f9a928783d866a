"""The whole path: a trained, registered model served by a real ``bentoml serve``.

Starts the server on 127.0.0.1 and a free port against the small market's model, scores
sample firms over HTTP, checks the responses and the audit rows, and stops the server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from serving.audit import AuditStore
from tests.servers import api_key, bearer, bentoml_serve

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(registry, tmp_path_factory) -> Iterator[tuple[str, str, str]]:
    folder = tmp_path_factory.mktemp("e2e")
    audit_url = f"sqlite:///{folder / 'audit.db'}"
    env = {**os.environ, **registry, "TECHRISK_DATABASE_URL": audit_url}
    env.pop("TECHRISK_MODEL_URI", None)
    key = api_key(env, folder)
    with bentoml_serve("serving.service:TechRiskService", env, REPO) as base:
        yield base, audit_url, key


def test_score_sample_firms_over_http(server, sample_requests) -> None:
    base, audit_url, key = server
    ids = []
    with httpx.Client(base_url=base, timeout=60, headers=bearer(key)) as client:
        for body in sample_requests[:5]:
            r = client.post("/score", json=body)
            assert r.status_code == 200, r.text
            out = r.json()
            assert out["decision"] in ("approve", "review", "decline")
            assert out["reasons"]["raise_risk"] or out["reasons"]["lower_risk"]
            ids.append(out["request_id"])
        batch = client.post("/score_batch", json={"items": sample_requests[5:8]}).json()
        assert batch["scored"] == 3
        bad = client.post("/score", json={**sample_requests[0], "application": None})
        assert bad.status_code == 422
        assert client.post("/metadata", json={}).json()["model"]["alias"] == "champion"
    store = AuditStore(audit_url)
    rows = store.list(limit=100)
    assert len(rows) == 8
    assert {r.request_id for r in rows} >= set(ids)
    store.close()


def test_a_real_server_and_its_page_are_closed_without_a_key(server, sample_requests) -> None:
    base, _, _ = server
    with httpx.Client(base_url=base, timeout=60) as client:
        refused = client.post("/score", json=sample_requests[0])
        assert refused.status_code == 401 and refused.headers["www-authenticate"]
        assert client.get("/ui/api/samples").status_code == 401
        for path in ("/livez", "/readyz", "/docs.json", "/ui/", "/ui/static/app.js"):
            assert client.get(path).status_code == 200, path
