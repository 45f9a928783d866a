"""The service's OpenAPI 3.1 document, built from its pydantic models and served at ``/docs.json``.

BentoML 1.4 generates a document that declares OpenAPI 3.0.2 but holds the JSON Schema 2020-12
that pydantic 2 writes (``exclusiveMinimum: 0``, ``{"type": "null"}``, ``examples``): invalid
for 3.0, valid for 3.1, whose schema objects are JSON Schema 2020-12. It also knows only
BentoML's own error statuses, and its request bodies carry no example that passes validation,
so a fuzzer never gets past the 422s to the scorer. This document declares every endpoint's
body, answer (``serving.responses``), refusals (one ``ErrorResponse`` shape for every 4xx/5xx),
authentication, and request examples that score (the shipped ``examples/score_request.json``).

BentoML's Swagger UI at ``/`` reads ``./docs.json``. :data:`docs_app` answers that one path and
is mounted on the service at ``/``: BentoML routes mounted Starlette apps before its own
``/docs.json`` and passes every other path on to its own routes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from serving.audit import IDEMPOTENCY_KEY
from serving.counterfactuals import CounterfactualOptions
from serving.responses import (
    CounterfactualResponse,
    ErrorResponse,
    Metadata,
    ReloadResponse,
    ScoreBatchResponse,
    ScoreResponse,
    WhatIfResponse,
)
from serving.schemas import MAX_BATCH, MAX_BATCH_ENV, ScoreBatchRequest, ScoreRequest
from serving.whatif import WhatIfChanges

OPENAPI_VERSION = "3.1.0"
#: The version of this HTTP contract: raise it when a field, a status or a rule changes.
API_VERSION = "1.0.0"
REF_TEMPLATE = "#/components/schemas/{model}"
#: One firm's score request, shipped with the source (a Bento includes it, see bentofile.yaml).
EXAMPLE_REQUEST = Path(__file__).resolve().parents[1] / "examples" / "score_request.json"
#: The retry key ``serving.service`` reads on ``/score`` (a test retries under this name).
IDEMPOTENCY_HEADER = "Idempotency-Key"
SECURITY_SCHEME = "bearer"


class WhatIfRequest(WhatIfChanges):
    """The body of ``/whatif``: a score request and the changes to try on its raw records."""

    request: ScoreRequest


class CounterfactualRequest(CounterfactualOptions):
    """The body of ``/counterfactuals``: a score request and what the suggestions aim at."""

    request: ScoreRequest


#: When each refusal happens, on every closed endpoint; an operation may word one its own way.
REFUSALS: dict[int, str] = {
    400: "The body is not a JSON object: malformed JSON, a wrong encoding, another JSON type.",
    401: "No API key, or an unknown one: send `Authorization: Bearer <key>`.",
    403: "The key's role may not call this endpoint.",
    413: "The body is larger than the service accepts.",
    415: "The body is not sent as `application/json`.",
    422: "The body breaks a rule: `errors` names each field, the value sent and the rule.",
    429: "This key sent more requests than its rate limit allows; retry later.",
    503: "The service cannot answer now (a store it needs is unavailable); retry later.",
}


@dataclass(frozen=True)
class Operation:
    """One endpoint as documented: its body and answer types, refusals and examples."""

    path: str
    method: str
    summary: str
    description: str
    tag: str
    #: The 200 body's type; None: plain text (the health probes).
    answer: type[BaseModel] | None
    body: type[BaseModel] | None = None
    #: Example bodies by name; each is posted by a test and must score (status 200).
    examples: dict[str, Any] = field(default_factory=dict)
    #: Refusals whose wording differs from :data:`REFUSALS`, and refusals only this one has.
    refusals: dict[int, str] = field(default_factory=dict)
    parameters: tuple[dict[str, Any], ...] = ()
    #: Open to anyone (health probes); every other endpoint needs an API key.
    open: bool = False


def operations() -> list[Operation]:
    """Every endpoint of the service, in the order the Swagger UI lists them."""
    request = json.loads(EXAMPLE_REQUEST.read_text(encoding="utf-8"))
    firm = f"the shipped example firm ({EXAMPLE_REQUEST.parent.name}/{EXAMPLE_REQUEST.name})"
    store_down = (
        "The audit store could not record the decision within its deadline, so no score is "
        "returned and none is recorded later; retry (with the same Idempotency-Key)."
    )
    return [
        Operation(
            "/score",
            "post",
            "Score one firm",
            "PD, score, grade and decision for the product, peer percentile and the reasons "
            "(score points per feature family, zh/en). Each decision is recorded in the audit "
            "store before it is answered.",
            "scoring",
            ScoreResponse,
            ScoreRequest,
            {"firm": {"summary": firm, "value": request}},
            {503: store_down},
            (
                {
                    "name": IDEMPOTENCY_HEADER,
                    "in": "header",
                    "required": False,
                    "description": "A client's key for retries: the same key with the same "
                    "body returns the decision on record instead of recording a second one; "
                    "the same key with another body is a 422.",
                    "schema": {"type": "string", "pattern": f"^{IDEMPOTENCY_KEY.pattern}$"},
                },
            ),
        ),
        Operation(
            "/score_batch",
            "post",
            "Score many firms",
            f"Each item is answered on its own, in order: a result, or the rules it broke; one "
            f"bad item does not fail the others. At most {MAX_BATCH} items ({MAX_BATCH_ENV}).",
            "scoring",
            ScoreBatchResponse,
            ScoreBatchRequest,
            {"one_firm": {"summary": f"a batch of {firm}", "value": {"items": [request]}}},
            {503: store_down},
        ),
        Operation(
            "/whatif",
            "post",
            "Score the firm with changes to its records",
            "The firm as sent and with the changes applied to its raw records, scored side by "
            "side through the same path as /score; a hypothesis, not recorded as a decision.",
            "what-if",
            WhatIfResponse,
            WhatIfRequest,
            {
                "patents": {
                    "summary": f"{firm} with two more invention patents",
                    "value": {
                        "request": request,
                        "changes": [{"kind": "invention_patents", "count": 2}],
                    },
                }
            },
        ),
        Operation(
            "/counterfactuals",
            "post",
            "Suggest the cheapest changes that lift the firm",
            "The cheapest plausible changes that move the firm one grade up or into the "
            "product's approve band, each verified by scoring it again; not recorded.",
            "what-if",
            CounterfactualResponse,
            CounterfactualRequest,
            {
                "next_grade": {
                    "summary": f"{firm}, one grade up",
                    "value": {"request": request, "goal": "next_grade", "top": 3},
                }
            },
        ),
        Operation(
            "/metadata",
            "post",
            "The served model",
            "Model name, version and alias, training window, out-of-time metrics, score "
            "scale, grades, decision bands and features (zh/en). No body is needed.",
            "model",
            Metadata,
        ),
        Operation(
            "/admin/reload",
            "post",
            "Follow the registry's aliases now",
            "Asks the model registry where the served aliases point and swaps to any version "
            "they moved to; requests in flight finish on their model. Admin keys only.",
            "model",
            ReloadResponse,
            refusals={
                403: "The key may not reload models (admins only), or reloading is off.",
                409: "This service serves the model packed in its Bento: no alias to follow.",
                503: "The model registry could not be read; nothing was swapped.",
            },
        ),
        Operation(
            "/livez",
            "get",
            "Liveness",
            "200 while the process serves; never touches a store.",
            "health",
            None,
            open=True,
        ),
        Operation(
            "/readyz",
            "get",
            "Readiness",
            "200 while the audit store would take a write now (bounded by its deadline).",
            "health",
            None,
            refusals={503: "Not ready: the audit store cannot take a write now."},
            open=True,
        ),
    ]


@cache
def openapi_document() -> dict[str, Any]:
    """The whole document (built once per process: the models do not change while serving)."""
    ops = operations()
    typed: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        *((op.body, "validation") for op in ops if op.body is not None),
        *((op.answer, "serialization") for op in ops if op.answer is not None),
        (ErrorResponse, "serialization"),
    ]
    refs, top = models_json_schema(typed, ref_template=REF_TEMPLATE)
    error = refs[(ErrorResponse, "serialization")]
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "techrisk 科技型中小企业信用风险评分",
            "version": API_VERSION,
            "description": (
                "Credit-risk scoring for technology-based SMEs: point-in-time features from a "
                "firm's raw records, a calibrated PD with exact reasons, and an audit trail. "
                "Send `Authorization: Bearer <key>` on every endpoint but the health probes. "
                "Every refusal has one shape, `{error, errors: [{field, value, rule}]}`."
            ),
        },
        "tags": [
            {"name": "scoring", "description": "decisions, recorded in the audit store"},
            {"name": "what-if", "description": "hypotheses, not recorded"},
            {"name": "model", "description": "the served model"},
            {"name": "health", "description": "probes, open without a key"},
        ],
        "security": [{SECURITY_SCHEME: []}],
        "paths": {op.path: {op.method: _operation(op, refs, error)} for op in ops},
        "components": {
            "schemas": top["$defs"],
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key; its role (scorer, auditor, admin) decides "
                    "which endpoints it may call.",
                }
            },
        },
    }


def _operation(
    op: Operation,
    refs: dict[tuple[type[BaseModel], JsonSchemaMode], dict[str, Any]],
    error: dict[str, Any],
) -> dict[str, Any]:
    """The operation object; the health probes answer plain text, the rest JSON."""
    text = {"type": "string"}
    media = "text/plain" if op.answer is None else "application/json"
    answer = text if op.answer is None else refs[(op.answer, "serialization")]
    refusal = text if op.answer is None else error
    refusals = op.refusals if op.open else REFUSALS | op.refusals
    described: dict[str, Any] = {
        "operationId": op.path.strip("/").replace("/", "_"),
        "summary": op.summary,
        "description": op.description,
        "tags": [op.tag],
        "responses": {
            "200": {"description": "OK", "content": {media: {"schema": answer}}},
            **{
                str(status): {"description": when, "content": {media: {"schema": refusal}}}
                for status, when in sorted(refusals.items())
            },
        },
    }
    if op.open:
        described["security"] = []
    if op.parameters:
        described["parameters"] = list(op.parameters)
    if op.body is not None:
        media_type = {"schema": refs[(op.body, "validation")], "examples": op.examples}
        described["requestBody"] = {"required": True, "content": {"application/json": media_type}}
    return described


@cache
def _encoded() -> bytes:
    return json.dumps(openapi_document(), ensure_ascii=False).encode()


async def _docs_json(_: Request) -> Response:
    return Response(_encoded(), media_type="application/json")


#: Mounted on the service at ``/`` (``serving.service``); it answers ``GET /docs.json`` only.
docs_app = Starlette(routes=[Route("/docs.json", _docs_json, methods=["GET"])])
