"""The service over HTTP (ASGI in-process): scores, reasons, validation, audit, metadata."""

from __future__ import annotations

import copy
import datetime as dt
import gc
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from serving.audit import AuditStore
from serving.schemas import ScoreRequest
from tests.servers import bearer


def test_score_returns_a_decision_with_reasons_and_records_it(client, sample_requests, service_env):
    body = sample_requests[0]
    r = client.post("/score", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert 0 < out["pd"] < 1 and 1 <= out["grade"] <= 10
    assert out["decision"] in ("approve", "review", "decline")
    assert out["model"]["name"] == "techrisk-pd" and out["model"]["alias"] == "champion"
    assert out["model"]["version"] == "1"
    assert 0 <= out["peer_percentile"] <= 100
    assert len(out["reasons"]["raise_risk"]) <= 5
    for reason in out["reasons"]["raise_risk"]:
        assert reason["points"] < 0 and reason["zh"] and reason["en"]
    # base points plus every family's points add up to the score
    assert out["base_points"] + sum(out["family_points"].values()) == pytest.approx(out["score"])
    record = AuditStore(service_env).get(out["request_id"])
    assert record is not None and record.pd == out["pd"] and record.channel == "score"
    assert record.input["firm"]["credit_code"] == body["firm"]["credit_code"]


def test_contributions_plus_base_equal_the_raw_margin(client, sample_requests):
    from features.build import build_feature_matrix
    from serving.model_source import from_registry
    from serving.schemas import to_sources

    model = from_registry().model
    request = ScoreRequest.model_validate(sample_requests[1])
    X = build_feature_matrix(*to_sources(request))
    contrib = model.contributions(X)
    np.testing.assert_allclose(contrib.sum(axis=1), model.margin(X), atol=1e-9)
    out = client.post("/score", json=sample_requests[1]).json()
    assert out["pd"] == pytest.approx(float(model.score(X).pd[0]), abs=1e-12)


def test_stored_input_reproduces_the_stored_pd(client, sample_requests, service_env):
    out = client.post("/score", json=sample_requests[2]).json()
    record = AuditStore(service_env).get(out["request_id"])
    again = client.post("/score", json=record.input).json()
    assert again["pd"] == record.pd
    assert again["model"]["version"] == record.model_version


def test_a_firm_is_answered_alike_on_the_event_loop_and_in_a_thread(
    client, sample_requests, service_env, monkeypatch
):
    """A firm of more than ``INLINE_RECORDS`` records is validated and scored in a thread:
    the same answer, recorded the same way, and the same refusal of a bad body."""
    import serving.score_route

    body = sample_requests[3]
    bad = {**body, "application": {**body["application"], "amount": -1}}
    inline = client.post("/score", json=body)
    refused_inline = client.post("/score", json=bad)
    monkeypatch.setattr(serving.score_route, "INLINE_RECORDS", 0)
    threaded = client.post("/score", json=body)
    refused_threaded = client.post("/score", json=bad)
    assert inline.status_code == threaded.status_code == 200
    a, b = inline.json(), threaded.json()
    assert a["request_id"] != b["request_id"]
    assert {k: v for k, v in a.items() if k != "request_id"} == {
        k: v for k, v in b.items() if k != "request_id"
    }
    store = AuditStore(service_env)
    assert store.get(a["request_id"]).pd == store.get(b["request_id"]).pd == a["pd"]
    assert refused_inline.status_code == refused_threaded.status_code == 422
    assert refused_inline.json() == refused_threaded.json()
    assert refused_inline.json()["errors"][0]["field"] == "application.amount"


def test_future_records_are_ignored_and_counted(client, sample_requests):
    body = copy.deepcopy(sample_requests[3])
    as_of = dt.date.fromisoformat(body["application"]["as_of"])
    before = client.post("/score", json=body).json()
    body["credit_events"].append(
        {"event_on": as_of.isoformat(), "kind": "overdue", "amount": 100.0, "days_past_due": 120}
    )
    # The as-of year's rating is published next April: a D for it must not count yet. Earlier
    # years stay as they were (removing a published one would change the features).
    body["tax_ratings"] = [t for t in body["tax_ratings"] if t["year"] < as_of.year]
    body["tax_ratings"].append({"year": as_of.year, "rating": "D"})
    after = client.post("/score", json=body).json()
    assert after["pd"] == before["pd"]
    assert after["ignored_future_total"] >= before["ignored_future_total"] + 2
    assert after["ignored_future_records"]["credit_events"] >= 1


def _errors(response) -> list[dict]:
    assert response.status_code == 422, response.text
    return response.json()["errors"]


def _mutate(body: dict, path: list, value) -> dict:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "field", "rule_words"),
    [
        (["firm", "credit_code"], "91310000MA1FL3LH1Y", "firm.credit_code", "check character"),
        (["application", "product"], "mortgage", "application.product", "tdld"),
        (["application", "as_of"], "2999-01-01", "application.as_of", "future"),
        (["application", "as_of"], "1990-01-01", "application.as_of", "founded"),
        (["application", "amount"], -5, "application.amount", ">"),
        (["application", "term_months"], "twelve", "application.term_months", "number"),
        (["credit_events"], KeyError, "credit_events", "missing required table"),
    ],
)
def test_bad_input_is_rejected_naming_field_value_and_rule(
    client, sample_requests, path, value, field, rule_words
):
    body = _mutate(sample_requests[4], path, value)
    errors = _errors(client.post("/score", json=body))
    hit = [e for e in errors if e["field"] == field]
    assert hit, errors
    assert rule_words in hit[0]["rule"]
    if value is not KeyError:
        assert str(hit[0]["value"]) == str(value)


def test_negative_money_and_dates_out_of_order_in_records(client, sample_requests):
    body = copy.deepcopy(sample_requests[5])
    body["financials"].append({"fiscal_year": 1999, "revenue": -1.0})
    body["ip_assets"].append(
        {
            "ip_id": "X1",
            "ip_type": "invention",
            "filed_on": "2021-03-01",
            "granted_on": "2021-02-01",
            "acquired": False,
        }
    )
    errors = _errors(client.post("/score", json=body))
    fields = {e["field"]: e for e in errors}
    n_fin, n_ip = len(body["financials"]) - 1, len(body["ip_assets"]) - 1
    assert fields[f"financials[{n_fin}].revenue"]["value"] == -1.0
    assert "on or after filed_on" in fields[f"ip_assets[{n_ip}].granted_on"]["rule"]


def test_batch_answers_per_item(client, sample_requests):
    bad = _mutate(sample_requests[6], ["application", "product"], "loan")
    r = client.post("/score_batch", json={"items": [sample_requests[7], bad, sample_requests[8]]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["scored"], out["rejected"]) == (2, 1)
    assert [i["ok"] for i in out["items"]] == [True, False, True]
    assert out["items"][1]["errors"][0]["field"] == "application.product"
    single = client.post("/score", json=sample_requests[7]).json()
    assert out["items"][0]["result"]["pd"] == pytest.approx(single["pd"], abs=1e-12)


def test_oversized_batch_is_refused(client, sample_requests, monkeypatch):
    import serving.schemas

    monkeypatch.setattr(serving.schemas, "MAX_BATCH", 3)
    errors = _errors(client.post("/score_batch", json={"items": sample_requests[:4]}))
    assert errors[0]["field"] == "items" and "at most 3" in errors[0]["rule"]


def test_metadata(client):
    r = client.post("/metadata", json={})
    assert r.status_code == 200, r.text
    meta = r.json()
    assert meta["model"]["name"] == "techrisk-pd"
    assert meta["training_window"]["split_kind"] == "time"
    assert "oot_auc" in meta["oot_metrics"]
    assert len(meta["grades"]) == 10
    feature = {f["name"]: f for f in meta["features"]}["cr_days_past_due_max_24m"]
    assert feature["zh"] == "近24个月最长逾期" and feature["family"] == "credit"


def test_health_and_openapi(client):
    assert client.get("/readyz").status_code == 200
    spec = client.get("/docs.json").json()
    assert {"/score", "/score_batch", "/metadata"} <= set(spec["paths"])
    body = spec["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "firm" in str(body) or "$ref" in str(body)


def test_openapi_documents_what_comes_back(client, sample_requests):
    """The response schemas name every field a response carries, down to a reason's feature."""
    spec = client.get("/docs.json").json()
    schemas = spec["components"]["schemas"]

    def answer(path: str) -> dict:
        ok = spec["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]
        return schemas[ok["schema"]["$ref"].rsplit("/", 1)[-1]]

    scored = client.post("/score", json=sample_requests[4]).json()
    assert set(answer("/score")["properties"]) == set(scored)
    reason = scored["reasons"]["raise_risk"][0]
    assert set(schemas["Reason"]["properties"]) == set(reason)
    assert set(schemas["FeatureReason"]["properties"]) == set(reason["features"][0])
    assert set(answer("/score_batch")["properties"]) == {"items", "scored", "rejected"}
    assert set(schemas["RejectedItem"]["properties"]) == {"index", "ok", "errors"}
    assert answer("/score")["properties"]["decision"]["enum"] == ["approve", "review", "decline"]


def test_store_down_gives_503_and_no_score(
    registry, sample_requests, monkeypatch, asgi_app, new_key
):
    from starlette.testclient import TestClient

    for key, value in registry.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TECHRISK_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/test")
    with TestClient(asgi_app, headers=bearer(new_key())) as c:
        r = c.post("/score", json=sample_requests[0])
    assert r.status_code == 503
    assert "audit store unavailable" in r.json()["error"]
    assert "pd" not in r.json()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_parallel_requests_make_exactly_as_many_audit_rows(
    backend, registry, sample_requests, monkeypatch, tmp_path, asgi_app, new_key
):
    import os
    import uuid

    import sqlalchemy as sa
    from starlette.testclient import TestClient

    for key, value in registry.items():
        monkeypatch.setenv(key, value)
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.db'}"
    else:
        schema = f"t_{uuid.uuid4().hex[:10]}"
        base = os.environ.get(
            "TECHRISK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
        engine = sa.create_engine(base)
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        url = f"{base}?options=-csearch_path%3D{schema}"
    monkeypatch.setenv("TECHRISK_DATABASE_URL", url)
    store = AuditStore(url)
    store.create_schema()
    n = 24
    try:
        with TestClient(asgi_app, headers=bearer(new_key())) as c, ThreadPoolExecutor(8) as pool:
            bodies = [sample_requests[i % len(sample_requests)] for i in range(n)]
            codes = list(pool.map(lambda b: c.post("/score", json=b).status_code, bodies))
        assert codes == [200] * n
        assert len(store.list(limit=1_000)) == n
    finally:
        store.close()
        if backend == "postgresql":
            with engine.begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
            engine.dispose()


def test_shipped_example_request_is_valid() -> None:
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "score_request.json"
    request = ScoreRequest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    assert request.firm.credit_code and request.application.product in ("tdld", "xyd")


def test_service_class_in_process(service_env, sample_requests) -> None:
    """The first of the three tiers: the class itself, no HTTP."""
    from serving.service import TechRiskService

    store = AuditStore(service_env)
    store.create_schema()
    svc = TechRiskService()
    # Start-up's heap is frozen out of the collector's way (serving/heap.py).
    assert gc.get_freeze_count() > 0
    gc.unfreeze()
    assert svc.metadata().model.alias == "champion"
    out = svc.scorer.score(ScoreRequest.model_validate(sample_requests[9]))
    assert store.get(out.request_id).pd == out.pd
