"""The service's answers as ready HTTP responses: a 200 body, and the refusals in the one
error shape ``{"error", "errors": [{field, value, rule}]}``.

Shared by the BentoML endpoints (``serving.service``) and the ``/score`` route
(``serving.score_route``), so a refusal reads the same whichever answers it.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from serving.audit import AuditUnavailable
from serving.responses import ErrorResponse, FieldError

log = logging.getLogger("techrisk.service")

#: The 503 body: what the client can act on, nothing about the deployment.
STORE_DOWN = (
    "audit store unavailable: the decision could not be recorded, so no score is returned; "
    "retry later (审计库暂不可用，未返回评分，请稍后重试)"
)


def answer(body: BaseModel) -> Response:
    """A 200 body rendered once, by pydantic's own JSON writer: handed a model, BentoML would
    dump it to Python and then to JSON, and send it in two chunks through every middleware."""
    return Response(body.model_dump_json(), media_type="application/json")


def refusal(status: int, body: ErrorResponse) -> JSONResponse:
    """A 4xx/5xx in the one error shape (unset optional parts left out)."""
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=status)


def invalid(errors: list[dict[str, Any]]) -> JSONResponse:
    """422 naming each field, value and rule."""
    return refusal(
        422, ErrorResponse(error="invalid request", errors=[FieldError(**e) for e in errors])
    )


def unavailable(exc: AuditUnavailable) -> JSONResponse:
    """503: the decision is not on record, so it is not returned."""
    # The store's URL, the driver's words and the SQL are for the operator's log only.
    log.error("audit store unavailable: %s", exc)
    return refusal(503, ErrorResponse(error=STORE_DOWN))
