"""``POST /score``: a Starlette route mounted on the service rather than a BentoML API.

It is the path of every loan officer's query and every sequential client, and it needs
nothing of BentoML's endpoint wrapper: the boundary (``serving.boundary``) has decoded the
body and ``serving.auth`` has checked the key before it runs, and it answers a ready
``Response``. The wrapper (reading the empty body the boundary hands on into an envelope
model, injecting arguments, the ``bentoml.Context`` and copying its status onto the answer)
cost about 0.5 ms of a 13-14 ms request (0.1 and 0.9 ms in two paired A/B runs on this
machine, the two servers in either order). BentoML's own middlewares (access log, request
metrics, tracing, the traffic timeout) still wrap the route, as they wrap the mounted page;
the service instance is BentoML's (``bentoml.get_current_service``).
"""

from __future__ import annotations

import functools
from typing import Any

import anyio.to_thread
import bentoml
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from serving.audit import AuditUnavailable, IdempotencyConflict
from serving.boundary import decoded_body
from serving.openapi import IDEMPOTENCY_HEADER
from serving.replies import answer, invalid, unavailable
from serving.schemas import ScoreRequest
from serving.schemas import validation_errors as describe_errors
from techrisk_base.errors import InvalidArgument

#: The route's path, which the boundary and the router-error middleware guard.
SCORE_PATH = "/score"
#: The most records a ``/score`` request may carry to be scored on the event loop (a typical
#: firm carries about 130, scored in a few milliseconds); larger ones go to a thread.
INLINE_RECORDS = 500


async def score(request: Request) -> Response:
    """Score one firm: PD, score, grade, decision, peer percentile and top reasons.

    A firm of up to :data:`INLINE_RECORDS` records (a few milliseconds of work) is validated
    and scored on the event loop, which serves other requests while its decision commits: no
    hop to a thread and back, and no thread held waiting on the store. A larger one is scored
    in a worker thread, so it does not stall the others.
    """
    sent = decoded_body(request)
    if sent is None:
        raise RuntimeError(f"{SCORE_PATH} needs the body decoded by serving.boundary")
    scorer = bentoml.get_current_service().scorer
    inline = _records(sent) <= INLINE_RECORDS
    try:
        parsed = (
            ScoreRequest.model_validate(sent)
            if inline
            else await anyio.to_thread.run_sync(ScoreRequest.model_validate, sent)
        )
    except ValidationError as exc:
        return invalid(describe_errors(exc))
    key = request.headers.get(IDEMPOTENCY_HEADER)
    try:
        if inline:
            return answer(await scorer.score_async(parsed, idempotency_key=key))
        scored = functools.partial(scorer.score, parsed, idempotency_key=key)
        return answer(await anyio.to_thread.run_sync(scored))
    except IdempotencyConflict as exc:
        # A retry must carry the same body as its first attempt.
        return invalid([{"field": exc.field, "value": exc.value, "rule": exc.rule}])
    except InvalidArgument as exc:
        return invalid([{"field": exc.name, "value": exc.value, "rule": exc.rule}])
    except AuditUnavailable as exc:
        return unavailable(exc)


def _records(body: dict[str, Any]) -> int:
    """How many records a score request carries (its tables are lists)."""
    return sum(len(table) for table in body.values() if isinstance(table, list))


score_app = Starlette(routes=[Route(SCORE_PATH, score, methods=["POST"])])
