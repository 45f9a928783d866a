"""The OpenAPI document: valid 3.1, every endpoint's answer and refusals, examples that score."""

from __future__ import annotations

import re
import subprocess
from typing import Any

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from serving.openapi import IDEMPOTENCY_HEADER, docs_app, openapi_document

CLOSED = {"/score", "/score_batch", "/whatif", "/counterfactuals", "/metadata", "/admin/reload"}
OPEN = {"/livez", "/readyz"}
REFUSED = {"400", "401", "403", "413", "415", "422", "429", "503"}
ERROR = {"$ref": "#/components/schemas/ErrorResponse"}


def _operations(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Path → its one operation (every path of the service has one method)."""
    out = {}
    for path, item in doc["paths"].items():
        (operation,) = item.values()
        out[path] = operation
    return out


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A JSON Schema 2020-12 validator of ``schema`` whose references resolve in ``doc``."""
    root = {**schema, "components": doc["components"]}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_the_document_is_valid_openapi_3_1() -> None:
    doc = openapi_document()
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # openapi-spec-validator: raises naming the first invalid node


def test_every_endpoint_documents_its_answer_and_every_refusal() -> None:
    doc = openapi_document()
    operations = _operations(doc)
    assert set(operations) == CLOSED | OPEN
    for path in CLOSED:
        responses = operations[path]["responses"]
        assert set(responses) >= REFUSED, path
        for status, response in responses.items():
            (schema,) = (m["schema"] for m in response["content"].values())
            assert response["description"], (path, status)
            assert set(response["content"]) == {"application/json"}, (path, status)
            assert (schema == ERROR) == (status != "200"), (path, status)
    assert "409" in operations["/admin/reload"]["responses"]
    for path in OPEN:
        assert set(operations[path]["responses"]["200"]["content"]) == {"text/plain"}


def test_a_bearer_key_is_required_except_on_the_health_probes() -> None:
    doc = openapi_document()
    scheme = doc["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert doc["security"] == [{"bearer": []}]
    for path, operation in _operations(doc).items():
        assert operation.get("security", doc["security"]) == (
            [] if path in OPEN else [{"bearer": []}]
        )


def test_score_documents_the_idempotency_key_header() -> None:
    (header,) = _operations(openapi_document())["/score"]["parameters"]
    assert (header["name"], header["in"], header["required"]) == (
        IDEMPOTENCY_HEADER,
        "header",
        False,
    )
    pattern = re.compile(header["schema"]["pattern"])
    assert pattern.search("retry-2024-01-01T00:00:00Z#1")
    assert not pattern.search("two words")
    assert not pattern.search("k" * 201)


def test_every_body_has_examples_that_meet_its_schema() -> None:
    doc = openapi_document()
    with_body = {p: op for p, op in _operations(doc).items() if "requestBody" in op}
    assert set(with_body) == {"/score", "/score_batch", "/whatif", "/counterfactuals"}
    for path, operation in with_body.items():
        media = operation["requestBody"]["content"]["application/json"]
        assert media["examples"], path
        validator = _validator(doc, media["schema"])
        for name, example in media["examples"].items():
            errors = [e.message for e in validator.iter_errors(example["value"])]
            assert not errors, (path, name, errors[:3])


def test_docs_app_serves_the_document() -> None:
    response = TestClient(docs_app).get("/docs.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == openapi_document()
    assert TestClient(docs_app).get("/").status_code == 404  # every other path is BentoML's


def test_the_demo_points_at_the_api_page_and_the_document(monkeypatch, tmp_path, capsys) -> None:
    from techrisk import cli

    monkeypatch.setenv("TECHRISK_DATABASE_URL", f"sqlite:///{tmp_path / 'audit.db'}")
    monkeypatch.setattr(subprocess, "call", lambda command: 0)
    assert cli._serve(3999, tmp_path / "request.json") == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "http://127.0.0.1:3999/docs.json" in out
    assert "http://127.0.0.1:3999/," in out
    assert "/docs)" not in out


def test_the_service_serves_the_document_and_every_example_scores(client) -> None:
    """Through the service's own app: BentoML routes ``/docs.json`` to ours, the Swagger UI
    page is still BentoML's, and each documented example gets a 200 whose body is the
    documented answer."""
    doc = client.get("/docs.json").json()
    assert doc == openapi_document()
    assert "swagger-ui" in client.get("/").text
    posted = 0
    for path, operation in _operations(doc).items():
        if "requestBody" not in operation:
            continue
        answer = _validator(doc, _answer_schema(operation))
        examples = operation["requestBody"]["content"]["application/json"]["examples"]
        for name, example in examples.items():
            response = client.post(path, json=example["value"])
            assert response.status_code == 200, (path, name, response.text[:500])
            errors = [e.message for e in answer.iter_errors(response.json())]
            assert not errors, (path, name, errors[:3])
            posted += 1
    assert posted == 4


def test_a_retry_under_the_documented_header_returns_the_decision_on_record(client) -> None:
    example = _operations(openapi_document())["/score"]["requestBody"]["content"]
    body = next(iter(example["application/json"]["examples"].values()))["value"]
    first, retry = (
        client.post("/score", json=body, headers={IDEMPOTENCY_HEADER: "openapi-retry-1"})
        for _ in range(2)
    )
    assert first.status_code == retry.status_code == 200, retry.text
    assert first.json()["request_id"] == retry.json()["request_id"]


def test_metadata_needs_no_body_and_answers_as_documented(client) -> None:
    doc = openapi_document()
    response = client.post("/metadata")
    assert response.status_code == 200, response.text
    schema = _answer_schema(_operations(doc)["/metadata"])
    assert not [e.message for e in _validator(doc, schema).iter_errors(response.json())]


def _answer_schema(operation: dict[str, Any]) -> dict[str, Any]:
    return operation["responses"]["200"]["content"]["application/json"]["schema"]
