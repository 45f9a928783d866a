"""The BentoML service: score one firm, score a batch, what-if, counterfactual suggestions,
metadata, and the loan officer's page at ``/ui``; health is BentoML's own. ``/score`` is a
route mounted on it (``serving.score_route``: BentoML's endpoint wrapper cost about 0.5 ms of
its 13); the rest are BentoML APIs.

Request bodies are decoded once, strictly, by the boundary middleware (``serving.boundary``:
415, 413 and 400 for what is not one JSON object within the limits) and validated by
``serving.schemas`` (not by BentoML), so that every 4xx names the field, the value and the
rule in one shape: ``{"error": ..., "errors": [{field, value, rule}]}``. The envelope models
below only document the bodies in the OpenAPI page; BentoML is handed an empty body, and the
endpoint reads the decoded one (:func:`_sent`). They are not typed as ``ScoreRequest``
because BentoML 1.4 validates a typed input before the endpoint runs and answers a failure
with its own fixed 400 ``{"error", "detail"}`` (no hook to reshape it), and because a batch
must answer each bad item on its own instead of refusing the whole batch.

Error bodies say what the client can act on and nothing about the deployment (no URLs,
users, SQL, paths or driver messages): those details go to the log, once.

Responses are the pydantic types of ``serving.responses``, rendered from the scoring kernel.
Every path but health and the API's documentation needs an API key whose role covers it
(``serving.auth``, a middleware in front of the whole app).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bentoml
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.json_schema import DEFAULT_REF_TEMPLATE
from starlette.responses import JSONResponse

from serving import auth, heap, limits, model_source
from serving.audit import AuditStore, AuditUnavailable
from serving.boundary import StrictJsonBoundary, decoded_body
from serving.connections import RecycleConnections
from serving.counterfactuals import CounterfactualOptions, suggest
from serving.model_reload import AliasWatcher, ReloadFailed
from serving.monitoring.shadow import ShadowScorer
from serving.openapi import docs_app
from serving.replies import answer, invalid, refusal, unavailable
from serving.responses import (
    ErrorResponse,
    FieldError,
    Metadata,
    RejectedItem,
    ScoreBatchResponse,
    ScoredItem,
)
from serving.router_errors import RouterErrorsAsJson
from serving.schemas import ScoreBatchRequest, ScoreRequest, brief_value, parse_batch
from serving.schemas import validation_errors as describe_errors
from serving.score_route import SCORE_PATH, score_app
from serving.scoring import ModelHandle, Scorer
from serving.ui import ui_app
from serving.whatif import (
    ChangeNotApplicable,
    WhatIfChanges,
    apply_changes,
    describe,
    parse_changes,
)
from techrisk_base import settings

log = logging.getLogger("techrisk.service")

#: A built Bento carries its model in BentoML's store; its layout puts bento.yaml two levels
#: above this file (``<bento>/src/serving/service.py``).
IN_BENTO = (Path(__file__).resolve().parents[2] / "bento.yaml").exists()
#: Reference the stored model only where it exists: inside a Bento, and while building one
#: (``model_source.build_bento`` sets the flag). ``bentoml serve`` from the source tree
#: resolves every class-scope model at start, and there the model lives in MLflow.
PACKAGED = IN_BENTO or os.environ.get(model_source.PACKAGING_FLAG) == "1"


class BatchBody(BaseModel):
    """A list of score requests; each item is answered on its own."""

    model_config = ConfigDict(extra="forbid")

    items: Any = None

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return ScoreBatchRequest.model_json_schema(*args, **kwargs)


def _refused(ctx: bentoml.Context, response: JSONResponse) -> JSONResponse:
    """A refusal from an API: BentoML copies the context's status onto a returned response."""
    ctx.response.status_code = response.status_code
    return response


class WhatIfBody(BaseModel):
    """A score request and the changes to try on its raw records (``serving.whatif``)."""

    model_config = ConfigDict(extra="forbid")

    request: Any = None
    changes: Any = None

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        schema = WhatIfChanges.model_json_schema(*args, **kwargs)
        return _with_request(schema, ["changes"], *args, **kwargs)


class CounterfactualBody(BaseModel):
    """A score request and the goal of the suggestions (``serving.counterfactuals``)."""

    model_config = ConfigDict(extra="forbid")

    request: Any = None
    goal: Any = None
    top: Any = None

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        schema = CounterfactualOptions.model_json_schema(*args, **kwargs)
        return _with_request(schema, [], *args, **kwargs)


def _with_request(
    schema: dict[str, Any], required: list[str], *args: Any, **kwargs: Any
) -> dict[str, Any]:
    """``schema`` with a ``request`` property holding a score request (``ScoreRequest``).

    References follow the caller's ``ref_template`` (BentoML moves ``$defs`` to the OpenAPI
    document's components and refers to them there).
    """
    request = ScoreRequest.model_json_schema(*args, **kwargs)
    defs = schema.setdefault("$defs", {})
    defs.update(request.pop("$defs", {}))
    defs["ScoreRequest"] = request
    template = kwargs.get("ref_template", DEFAULT_REF_TEMPLATE)
    ref = {"$ref": template.format(model="ScoreRequest")}
    schema["properties"] = {"request": ref, **schema["properties"]}
    schema["required"] = ["request", *required]
    return schema


@functools.cache
def batch_sizes() -> Callable[[float], None]:
    """The ``/metrics`` histogram of how many ``/score`` requests each feature build and model
    call served (``serving/batching.py``): 1 at low load, more under load.

    Made on first use, in a worker: ``prometheus_client`` picks its multiprocess mode (and so
    whether ``/metrics`` sees the value) when it is first imported, after BentoML has set
    ``PROMETHEUS_MULTIPROC_DIR``; and once per process, as a registry holds each name once.
    """
    import prometheus_client

    return prometheus_client.Histogram(
        "techrisk_score_batch_size",
        "Requests scored in one feature build and model call (natural batching of /score)",
        buckets=(1, 2, 3, 4, 6, 8, 12, 16),
    ).observe


def _invalid(ctx: bentoml.Context, errors: list[dict[str, Any]]) -> JSONResponse:
    return _refused(ctx, invalid(errors))


def _unavailable(ctx: bentoml.Context, exc: AuditUnavailable) -> JSONResponse:
    return _refused(ctx, unavailable(exc))


@bentoml.asgi_app(score_app, path="/")
@bentoml.asgi_app(docs_app, path="/")
@bentoml.asgi_app(ui_app, path="/ui")
@bentoml.service(
    name="techrisk",
    workers=int(os.environ.get("TECHRISK_WORKERS", "1")),
    # Sync endpoints run in a thread pool of this size (BentoML's default is 1: one request
    # at a time). LightGBM releases the GIL, and concurrent audit rows share a commit. The
    # async /score runs a typical firm on the event loop and a larger one in anyio's threads.
    threads=int(os.environ.get("TECHRISK_THREADS", "4")),
    traffic={"timeout": 120},
)
class TechRiskService:
    if PACKAGED:
        bento_model = bentoml.models.BentoModel(f"{settings.BENTO_MODEL_NAME}:latest")

    def __init__(self) -> None:
        auth.check_settings()
        from_store = IN_BENTO and "TECHRISK_MODEL_URI" not in os.environ
        handle = (
            model_source.from_bento_store(self.bento_model)
            if from_store
            else model_source.from_registry()
        )
        limits.current()  # a bad limit setting stops the service here, not on a request
        audit = AuditStore()
        self.scorer = Scorer(handle, audit, on_batch=batch_sizes())
        log.info("serving %s", handle.describe())
        self._start_shadow_and_reload(audit, reload=not from_store)
        heap.freeze_startup()

    # --- shadow scoring and hot reload -----------------------------------------------------

    def _start_shadow_and_reload(self, audit: AuditStore, reload: bool) -> None:
        """A shadow scorer when ``TECHRISK_SHADOW_URI`` is set; alias watchers for the
        champion (and shadow) when the model came from the registry."""
        self.shadow: ShadowScorer | None = None
        self.watchers: list[AliasWatcher] = []
        shadow_uri = settings.shadow_uri()
        if shadow_uri:
            self.shadow = ShadowScorer(model_source.from_registry(shadow_uri), audit)
            self.scorer.shadow = self.shadow
            log.info("shadow-scoring with %s", self.shadow.handle.describe())
        if not reload:
            return
        interval = settings.reload_seconds()
        scorer = self.scorer
        self.watchers.append(
            AliasWatcher(scorer.handle.uri, lambda: scorer.handle, _installer(scorer), interval)
        )
        if self.shadow is not None:
            shadow = self.shadow
            self.watchers.append(
                AliasWatcher(shadow.handle.uri, lambda: shadow.handle, _installer(shadow), interval)
            )

    @bentoml.on_shutdown
    def stop_background_threads(self) -> None:
        for watcher in self.watchers:
            watcher.close()
        if self.shadow is not None:
            self.shadow.close()

    @bentoml.api(route="/admin/reload")
    def admin_reload(self, ctx: bentoml.Context) -> dict[str, Any]:
        """Look up the served aliases now and swap to any version they moved to (admin role,
        checked by ``serving.auth``).

        In-flight requests finish on the model they started with.
        """
        if not self.watchers:
            error = ErrorResponse(error="this service serves a model packed in its Bento")
            return _refused(ctx, refusal(409, error))
        try:
            results = [w.check() for w in self.watchers]
        except ReloadFailed as exc:
            log.error("%s", exc)  # the registry's URI and its error: the log only
            error = ErrorResponse(error="model registry unavailable; nothing was reloaded")
            return _refused(ctx, refusal(503, error))
        return {
            "models": [
                {"uri": r.uri, "previous": r.previous, "version": r.version, "changed": r.changed}
                for r in results
            ]
        }

    def __is_ready__(self) -> bool:
        """BentoML's ``/readyz``: ready only while the audit store would take a write now.

        Bounded by the audit deadline; ``/livez`` and ``/metadata`` never touch the store.
        """
        return self.scorer.audit is None or self.scorer.audit.ping()

    @bentoml.on_deployment
    def create_audit_schema() -> None:
        """Once per deployment, before workers start: the audit table must exist."""
        AuditStore().create_schema()

    @bentoml.api(route="/score_batch", input_spec=BatchBody)
    def score_batch(self, ctx: bentoml.Context, **body: Any) -> ScoreBatchResponse:
        """Score many firms; each item gets a result or its own errors."""
        try:
            requests, errors = parse_batch(_sent(ctx, body))
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
        return answer(
            ScoreBatchResponse(
                items=items, scored=len(good), rejected=sum(e is not None for e in errors)
            )
        )

    # -- what-if and counterfactuals (serving/whatif.py, serving/counterfactuals.py) ---------
    # Hypotheses, not decisions: scored through the same path without an audit record.

    @bentoml.api(route="/whatif", input_spec=WhatIfBody)
    def whatif(self, ctx: bentoml.Context, **body: Any) -> dict[str, Any]:
        """Score the firm as sent and with the changes applied to its raw records."""
        body = _sent(ctx, body)
        errors = _unknown_fields(body, WhatIfBody)
        request = changes = None
        try:
            request = ScoreRequest.model_validate(body.get("request"))
        except ValidationError as exc:
            errors += _prefixed("request", describe_errors(exc))
        try:
            changes = parse_changes(body.get("changes"))
        except ValidationError as exc:
            errors += describe_errors(exc)
        if errors or request is None or changes is None:
            return _invalid(ctx, errors)
        try:
            changed = apply_changes(request, changes)
        except ChangeNotApplicable as exc:
            return _invalid(ctx, [exc.describe()])
        except ValidationError as exc:
            return _invalid(ctx, _prefixed("changes", describe_errors(exc)))
        unrecorded = Scorer(self.scorer.handle, None)
        original, modified = (
            r.model_dump(mode="json")
            for r in unrecorded.score_many([request, changed], channel="whatif")
        )
        return {
            "original": original,
            "modified": modified,
            "changes": [c.model_dump() | describe(c) for c in changes],
            "delta": {
                "pd": modified["pd"] - original["pd"],
                "score": modified["score"] - original["score"],
                "grade": modified["grade"] - original["grade"],
            },
            "model": self.scorer.handle.describe(),
        }

    @bentoml.api(route="/counterfactuals", input_spec=CounterfactualBody)
    def counterfactuals(self, ctx: bentoml.Context, **body: Any) -> dict[str, Any]:
        """The cheapest plausible changes that move the firm up a grade or into approval."""
        body = _sent(ctx, body)
        errors = _unknown_fields(body, CounterfactualBody)
        request = options = None
        try:
            request = ScoreRequest.model_validate(body.get("request"))
        except ValidationError as exc:
            errors += _prefixed("request", describe_errors(exc))
        try:
            options = CounterfactualOptions.model_validate(
                {k: body[k] for k in ("goal", "top") if body.get(k) is not None}
            )
        except ValidationError as exc:
            errors += describe_errors(exc)
        if errors or request is None or options is None:
            return _invalid(ctx, errors)
        scorer = Scorer(self.scorer.handle, None)
        return suggest(scorer, request, options.goal, top=options.top) | {
            "model": self.scorer.handle.describe()
        }

    @bentoml.api(route="/metadata")
    def metadata(self) -> Metadata:
        """Model name, version, alias, training window, OOT metrics, scale, grades, features."""
        return self.scorer.metadata()


# Keep-alive clients re-spread over the workers (``serving/connections.py``); it only adds a
# header to answers, so it may wrap everything.
TechRiskService.add_asgi_middleware(RecycleConnections, limit=settings.requests_per_connection())
# API keys and roles on every path, the mounted page included, before any body is read: keep
# it before the middlewares that read bodies.
TechRiskService.add_asgi_middleware(auth.ApiKeyAuth)


def _installer(scorer: Scorer | ShadowScorer) -> Callable[[ModelHandle], None]:
    """How a reloaded model replaces ``scorer``'s: one assignment, then the heap refrozen
    (``serving.heap``) so the old model can be freed."""

    def install(handle: ModelHandle) -> None:
        scorer.handle = handle
        heap.refreeze()

    return install


def _prefixed(prefix: str, errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Errors of a nested request located from the body's root (``request.firm.name``)."""
    return [
        {**e, "field": prefix if e["field"] == "(body)" else f"{prefix}.{e['field']}"}
        for e in errors
    ]


def _sent(ctx: bentoml.Context, body: dict[str, Any]) -> dict[str, Any]:
    """The body as the client sent it: decoded once by the boundary, or, for in-process calls
    without it, BentoML's arguments minus the fields that were not sent (an absent table is
    reported as missing, not as empty)."""
    decoded = decoded_body(ctx.request)
    return decoded if decoded is not None else {k: v for k, v in body.items() if v is not None}


def _unknown_fields(body: dict[str, Any], envelope: type[BaseModel]) -> list[dict[str, Any]]:
    """An error per top-level field ``envelope`` does not have (a misspelt ``chnages``)."""
    rule = "is not a field of this request"
    return [
        {"field": k, "value": brief_value(v), "rule": rule}
        for k, v in body.items()
        if k not in envelope.model_fields
    ]


def _json_routes() -> frozenset[str]:
    """The paths of the service's JSON endpoints, which the boundary guards."""
    prefix = (TechRiskService.path_prefix or "").rstrip("/")
    routes = [SCORE_PATH, *(api.route for api in TechRiskService.apis.values())]
    return frozenset(prefix + route for route in routes)


TechRiskService.add_asgi_middleware(StrictJsonBoundary, paths=_json_routes())
# The router's plain-text 404/405 in the one error shape.
TechRiskService.add_asgi_middleware(RouterErrorsAsJson, routes=_json_routes())
