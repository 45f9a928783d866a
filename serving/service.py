"""The BentoML service: score one firm, score a batch, metadata; health is BentoML's own.

Request bodies are validated by ``serving.schemas`` (not by BentoML), so that every 4xx names
the field, the value and the rule in one shape: ``{"error": ..., "errors": [{field, value,
rule}]}``. The envelope models below only document the bodies in the OpenAPI page and accept
any JSON object; the real validation runs inside the endpoint. They are not typed as
``ScoreRequest`` because BentoML 1.4 validates a typed input before the endpoint runs and
answers a failure with its own fixed 400 ``{"error", "detail"}`` (no hook to reshape it), and
because a batch must answer each bad item on its own instead of refusing the whole batch.

Responses are the pydantic types of ``serving.responses``, rendered from the scoring kernel.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import bentoml
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.responses import JSONResponse

from serving import model_source
from serving.audit import AuditStore, AuditUnavailable
from serving.responses import (
    ErrorResponse,
    FieldError,
    Metadata,
    RejectedItem,
    ScoreBatchResponse,
    ScoredItem,
    ScoreResponse,
)
from serving.schemas import ScoreBatchRequest, ScoreRequest, parse_batch
from serving.schemas import validation_errors as describe_errors
from serving.scoring import Scorer
from techrisk_base import settings

log = logging.getLogger("techrisk.service")

#: A built Bento carries its model in BentoML's store; its layout puts bento.yaml two levels
#: above this file (``<bento>/src/serving/service.py``).
IN_BENTO = (Path(__file__).resolve().parents[2] / "bento.yaml").exists()
#: Reference the stored model only where it exists: inside a Bento, and while building one
#: (``model_source.build_bento`` sets the flag). ``bentoml serve`` from the source tree
#: resolves every class-scope model at start, and there the model lives in MLflow.
PACKAGED = IN_BENTO or os.environ.get(model_source.PACKAGING_FLAG) == "1"


class ScoreBody(BaseModel):
    """One firm's records and its application (schema: ``serving.schemas.ScoreRequest``)."""

    model_config = ConfigDict(extra="forbid")

    firm: Any = None
    application: Any = None
    ip_assets: Any = None
    financials: Any = None
    staffing: Any = None
    credit_events: Any = None
    tax_ratings: Any = None
    financing_rounds: Any = None
    support_records: Any = None

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return ScoreRequest.model_json_schema(*args, **kwargs)


class BatchBody(BaseModel):
    """A list of score requests; each item is answered on its own."""

    model_config = ConfigDict(extra="forbid")

    items: Any = None

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return ScoreBatchRequest.model_json_schema(*args, **kwargs)


def _refused(ctx: bentoml.Context, status: int, body: ErrorResponse) -> JSONResponse:
    """A 4xx/5xx body; BentoML copies the context's status onto a returned response."""
    ctx.response.status_code = status
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=status)


def _invalid(ctx: bentoml.Context, errors: list[dict[str, Any]]) -> JSONResponse:
    return _refused(
        ctx, 422, ErrorResponse(error="invalid request", errors=[FieldError(**e) for e in errors])
    )


def _unavailable(ctx: bentoml.Context, exc: AuditUnavailable) -> JSONResponse:
    log.error("audit store unavailable: %s", exc)
    return _refused(
        ctx,
        503,
        ErrorResponse(
            error="audit store unavailable: the decision could not be recorded, so no score is "
            f"returned; retry later ({exc})"
        ),
    )


@bentoml.service(
    name="techrisk",
    workers=int(os.environ.get("TECHRISK_WORKERS", "1")),
    # Sync endpoints run in a thread pool of this size (BentoML's default is 1: one request
    # at a time). LightGBM releases the GIL, and concurrent audit rows share a commit.
    threads=int(os.environ.get("TECHRISK_THREADS", "4")),
    traffic={"timeout": 120},
)
class TechRiskService:
    if PACKAGED:
        bento_model = bentoml.models.BentoModel(f"{settings.BENTO_MODEL_NAME}:latest")

    def __init__(self) -> None:
        handle = (
            model_source.from_bento_store(self.bento_model)
            if IN_BENTO and "TECHRISK_MODEL_URI" not in os.environ
            else model_source.from_registry()
        )
        self.scorer = Scorer(handle, AuditStore())
        log.info("serving %s", handle.describe())

    def __is_ready__(self) -> bool:
        """BentoML's ``/readyz``: ready only while the audit store would take a write now.

        Bounded by the audit deadline; ``/livez`` and ``/metadata`` never touch the store.
        """
        return self.scorer.audit is None or self.scorer.audit.ping()

    @bentoml.on_deployment
    def create_audit_schema() -> None:
        """Once per deployment, before workers start: the audit table must exist."""
        AuditStore().create_schema()

    @bentoml.api(route="/score", input_spec=ScoreBody)
    def score(self, ctx: bentoml.Context, **body: Any) -> ScoreResponse:
        """Score one firm: PD, score, grade, decision, peer percentile and top reasons."""
        try:
            request = ScoreRequest.model_validate(_present(body))
        except ValidationError as exc:
            return _invalid(ctx, describe_errors(exc))
        try:
            return self.scorer.score(request)
        except AuditUnavailable as exc:
            return _unavailable(ctx, exc)

    @bentoml.api(route="/score_batch", input_spec=BatchBody)
    def score_batch(self, ctx: bentoml.Context, **body: Any) -> ScoreBatchResponse:
        """Score many firms; each item gets a result or its own errors."""
        try:
            requests, errors = parse_batch(_present(body))
        except ValidationError as exc:
            return _invalid(ctx, describe_errors(exc))
        good = [r for r in requests if r is not None]
        try:
            scored = iter(self.scorer.score_many(good))
        except AuditUnavailable as exc:
            return _unavailable(ctx, exc)
        items: list[ScoredItem | RejectedItem] = [
            ScoredItem(index=i, ok=True, result=next(scored))
            if err is None
            else RejectedItem(index=i, ok=False, errors=[FieldError(**e) for e in err.errors])
            for i, err in enumerate(errors)
        ]
        return ScoreBatchResponse(
            items=items, scored=len(good), rejected=sum(e is not None for e in errors)
        )

    @bentoml.api(route="/metadata")
    def metadata(self) -> Metadata:
        """Model name, version, alias, training window, OOT metrics, scale, grades, features."""
        return self.scorer.metadata()


def _present(body: dict[str, Any]) -> dict[str, Any]:
    """The fields that were sent: an absent table is reported as missing, not as empty."""
    return {k: v for k, v in body.items() if v is not None}
