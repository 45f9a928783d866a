"""The service while its audit store is locked: 503 within the deadline, /readyz false then
true, /metadata unaffected, and no decision committed after its client was answered."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from serving.audit import AuditStore, IdempotencyConflict
from serving.schemas import ScoreRequest
from tests.servers import bearer
from tests.serving.audit_records import held_write_lock

DEADLINE_S = 0.5
SLACK_S = 0.75


@pytest.fixture
def outage_client(registry, url, asgi_app, monkeypatch, new_key) -> Iterator[TestClient]:
    for key, value in registry.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TECHRISK_MODEL_URI", raising=False)
    monkeypatch.setenv("TECHRISK_DATABASE_URL", url)
    monkeypatch.setenv("TECHRISK_AUDIT_DEADLINE_S", str(DEADLINE_S))
    AuditStore(url).create_schema()
    with TestClient(asgi_app, headers=bearer(new_key())) as client:
        yield client


def _timed(call):
    start = time.monotonic()
    response = call()
    return response, time.monotonic() - start


def test_a_locked_store_gets_a_prompt_503_and_no_late_row(
    outage_client: TestClient, url: str, sample_requests: list[dict]
) -> None:
    client = outage_client
    assert client.post("/score", json=sample_requests[0]).status_code == 200
    assert client.get("/readyz").status_code == 200
    with held_write_lock(url):
        refused, waited = _timed(lambda: client.post("/score", json=sample_requests[1]))
        assert refused.status_code == 503 and waited < DEADLINE_S + SLACK_S
        batch, waited = _timed(
            lambda: client.post("/score_batch", json={"items": sample_requests[2:5]})
        )
        assert batch.status_code == 503 and waited < DEADLINE_S + SLACK_S
        ready, waited = _timed(lambda: client.get("/readyz"))
        assert ready.status_code == 503 and waited < DEADLINE_S + SLACK_S
        metadata, waited = _timed(lambda: client.post("/metadata"))
        assert metadata.status_code == 200 and waited < DEADLINE_S
    time.sleep(3 * DEADLINE_S)
    assert client.get("/readyz").status_code == 200
    store = AuditStore(url)
    assert len(store.list(limit=100)) == 1
    retried = client.post("/score", json=sample_requests[1])
    assert retried.status_code == 200
    assert len(store.list(limit=100)) == 2 and store.verify().ok
    store.close()


def test_a_retry_with_its_idempotency_key_returns_the_first_answer(
    outage_client: TestClient, url: str, sample_requests: list[dict]
) -> None:
    from serving.service import TechRiskService

    scorer = TechRiskService().scorer
    request = ScoreRequest.model_validate(sample_requests[6])
    first = scorer.score(request, idempotency_key="officer-42:loan-9")
    retry = scorer.score(request, idempotency_key="officer-42:loan-9")
    assert retry == first
    assert len(scorer.audit.list(limit=10)) == 1
    other = ScoreRequest.model_validate(sample_requests[7])
    with pytest.raises(IdempotencyConflict, match="already names decision"):
        scorer.score(other, idempotency_key="officer-42:loan-9")
    assert len(scorer.audit.list(limit=10)) == 1
    scorer.audit.close()


def test_the_idempotency_key_header_makes_a_retry_safe_over_http(
    outage_client: TestClient, url: str, sample_requests: list[dict]
) -> None:
    key = {"Idempotency-Key": "officer-7:loan-3"}
    first = outage_client.post("/score", json=sample_requests[2], headers=key)
    retry = outage_client.post("/score", json=sample_requests[2], headers=key)
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    other = outage_client.post("/score", json=sample_requests[3], headers=key)
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    bad = outage_client.post("/score", json=sample_requests[3], headers={"Idempotency-Key": "a b"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "Idempotency-Key"
    store = AuditStore(url)
    assert len(store.list(limit=100)) == 1
    store.close()
