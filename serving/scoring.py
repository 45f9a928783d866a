"""Scoring one firm or many: request → features → the scoring kernel → response → audit.

This is the service's core without the web framework, so the BentoML service and the tests
call the same code; the numbers and reasons come from ``models.kernel``, which batch screening
calls too. A decision is returned only after its audit row is committed; if the store cannot
take it, ``AuditUnavailable`` propagates and no score leaves.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from features.build import build_feature_matrix
from features.pit import EXACT_FIRMS
from models import kernel
from models.kernel import TOP_REASONS, Scored
from models.pd_model import PDModel
from serving.audit import (
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_KEY_RULE,
    AuditStore,
    DecisionRecord,
    canonical_object,
)
from serving.batching import LoopBatcher
from serving.responses import (
    DecisionBand,
    FeatureInfo,
    GradeRow,
    Metadata,
    ModelInfo,
    Reasons,
    ScoreResponse,
    ScoreScaleInfo,
)
from serving.schemas import ScoreRequest, to_sources
from techrisk_base.errors import InvalidArgument


@dataclass(frozen=True)
class ModelHandle:
    """The loaded model and where it came from (for responses, metadata and the audit)."""

    model: PDModel
    name: str
    version: str
    alias: str | None
    uri: str

    def describe(self) -> ModelInfo:
        return ModelInfo(name=self.name, version=self.version, alias=self.alias, uri=self.uri)


def _concat(parts: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The columns of ``parts`` end to end; one part is taken as it is (a lone request's
    columns are not copied)."""
    if len(parts) <= 1:
        return parts[0] if parts else {}
    return {col: np.concatenate([p[col] for p in parts]) for col in parts[0]}


def _rounds(requests: Sequence[ScoreRequest]) -> list[list[int]]:
    """Item indices grouped so that no firm appears twice in a group.

    A feature build takes one firm row per credit code; two applications of the same firm
    (each with its own records as sent) are built in separate groups.
    """
    seen: Counter[str] = Counter()
    groups: list[list[int]] = []
    for i, req in enumerate(requests):
        k = seen[req.firm.credit_code]
        seen[req.firm.credit_code] += 1
        if k == len(groups):
            groups.append([])
        groups[k].append(i)
    return groups


def request_features(requests: Sequence[ScoreRequest]) -> np.ndarray:
    """The feature rows of many requests, in their order, built as ``score_many`` builds them.

    ``techrisk monitor`` recomputes the served features from the audit's canonical inputs
    through here, so monitoring and scoring share one feature code path.
    """
    out = np.empty((len(requests), 0))
    for group, X, _ in _built_groups(requests):
        if out.shape[1] == 0:
            out = np.full((len(requests), X.shape[1]), np.nan)
        out[group] = X
    return out


def _built_groups(
    requests: Sequence[ScoreRequest],
) -> Iterator[tuple[list[int], np.ndarray, list[Mapping[str, Mapping[str, np.ndarray]]]]]:
    """Each group of ``_rounds``: its item indices, its feature rows (one build for the
    group) and each item's ``to_sources`` columns."""
    for group in _rounds(requests):
        converted = [to_sources(requests[i]) for i in group]
        tables = {t for s, _ in converted for t in s}
        sources = {t: _concat([s[t] for s, _ in converted if t in s]) for t in tables}
        X = build_feature_matrix(sources, _concat([a for _, a in converted]))
        yield group, X, [s for s, _ in converted]


#: Turns of the event loop a request waits for others to join its batch: a request whose
#: bytes arrived while the loop was busy reaches the batcher two turns after they are read.
BATCH_TURNS = 3


class Shadow(Protocol):
    """Takes the champion's feature rows once the decisions are on record (never blocks)."""

    def submit(
        self, X: np.ndarray, products: Sequence[str], request_ids: Sequence[str]
    ) -> None: ...


@dataclass(frozen=True)
class _Asked:
    """One request to score, as its endpoint received it."""

    request: ScoreRequest
    channel: str
    idempotency_key: str | None


def _check_key(idempotency_key: str | None) -> None:
    if idempotency_key is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise InvalidArgument("Idempotency-Key", idempotency_key, IDEMPOTENCY_KEY_RULE)


@dataclass(frozen=True)
class _Decided:
    """One request scored, before its decision is on record."""

    X: np.ndarray
    result: ScoreResponse
    record: DecisionRecord | None


class Scorer:
    """Scores with ``handle``; a hot reload replaces ``handle`` whole (one assignment), and
    each call reads it once, so a request is answered and recorded by one model version."""

    def __init__(
        self,
        handle: ModelHandle,
        audit: AuditStore | None,
        shadow: Shadow | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        """``on_batch`` is told the size of each batch :meth:`score_async` scores."""
        self.handle = handle
        self.audit = audit
        self.shadow = shadow
        # No more firms in one build than features.pit sums exactly, firm by firm: a
        # decision's stored input scored again alone must reproduce its PD bit for bit.
        self._batcher: LoopBatcher[_Asked, _Decided] = LoopBatcher(
            self._decide_many, limit=EXACT_FIRMS, turns=BATCH_TURNS, observe=on_batch
        )

    @property
    def model(self) -> PDModel:
        return self.handle.model

    # -- public ---------------------------------------------------------------------------
    def evaluate(
        self,
        X: np.ndarray,
        products: str | Sequence[str],
        *,
        top: int = TOP_REASONS,
        lower: bool = True,
    ) -> Scored:
        """Score feature rows with the served model and record nothing: for what-if,
        counterfactual candidates and comparisons (see ``models.kernel.score``)."""
        return kernel.score(self.model, X, products, top=top, lower=lower)

    def score(
        self,
        request: ScoreRequest,
        channel: str = "score",
        *,
        idempotency_key: str | None = None,
    ) -> ScoreResponse:
        """Score one request, record it, return the response.

        With an ``idempotency_key`` (the client's ``Idempotency-Key`` header), a retry of a
        recorded request returns the decision on record, as first answered, and records
        nothing new; the key on a different body raises ``IdempotencyConflict``. An invalid
        key raises ``InvalidArgument`` naming the header.
        """
        _check_key(idempotency_key)
        decided = self._decide_many([_Asked(request, channel, idempotency_key)])[0]
        if self.audit is None or decided.record is None:
            return decided.result
        return self._answer(decided, self.audit.record(decided.record))

    async def score_async(
        self,
        request: ScoreRequest,
        channel: str = "score",
        *,
        idempotency_key: str | None = None,
    ) -> ScoreResponse:
        """:meth:`score` on an event loop: scored there, with the requests that reached the
        loop beside it in one feature build and one model call (``serving.batching``), and
        the loop serves other requests while the decision commits (a request never holds a
        thread waiting on the store)."""
        _check_key(idempotency_key)
        decided = await self._batcher.submit(_Asked(request, channel, idempotency_key))
        if self.audit is None or decided.record is None:
            return decided.result
        return self._answer(decided, await self.audit.record_async(decided.record))

    def _decide_many(self, asked: Sequence[_Asked]) -> list[_Decided]:
        """The response to each request and the decision to record for it (none without a
        store), with one feature build and one kernel call per group of distinct firms."""
        handle = self.handle
        requests = [a.request for a in asked]
        decided: list[_Decided | None] = [None] * len(asked)
        for group, X, sources in _built_groups(requests):
            results = self._responses(X, [requests[i] for i in group], sources, handle)
            for row, (i, result) in enumerate(zip(group, results, strict=True)):
                a = asked[i]
                record = (
                    None
                    if self.audit is None
                    else self._record(a.request, result, a.channel, a.idempotency_key)
                )
                decided[i] = _Decided(X[row : row + 1], result, record)
        return [d for d in decided if d is not None]

    def _answer(self, decided: _Decided, stored: DecisionRecord) -> ScoreResponse:
        """The answer once ``decided`` is on record as ``stored``."""
        assert decided.record is not None
        if stored.request_id != decided.record.request_id:
            # A retry under the same key: the decision on record, as first answered.
            assert stored.response is not None  # a keyed decision is stored with its response
            return ScoreResponse.model_validate(stored.response)
        if self.shadow is not None:
            self.shadow.submit(decided.X, [decided.result.product], [decided.result.request_id])
        return decided.result

    def score_many(
        self, requests: Sequence[ScoreRequest], channel: str = "score_batch"
    ) -> list[ScoreResponse]:
        """Score many requests with one feature build and one kernel call per group.

        All decisions are recorded in one transaction before any is returned.
        """
        decided = self._decide_many([_Asked(r, channel, None) for r in requests])
        if self.audit is not None and decided:
            self.audit.record_many(d.record for d in decided if d.record is not None)
        if self.shadow is not None and decided:
            self.shadow.submit(
                np.vstack([d.X for d in decided]),
                [d.result.product for d in decided],
                [d.result.request_id for d in decided],
            )
        return [d.result for d in decided]

    def metadata(self) -> Metadata:
        model = self.model
        features = []
        meta = model.reasons.meta if model.reasons else {}
        for name in model.features:
            m = meta.get(name)
            features.append(
                FeatureInfo(
                    name=name,
                    family=m.family if m else "other",
                    zh=m.zh if m else name,
                    en=m.en if m else name,
                    unit=m.unit if m else "",
                    direction=m.direction if m else 0,
                )
            )
        info = model.info
        return Metadata(
            model=self.handle.describe(),
            training_window=info.get("window", {}),
            oot_metrics={k: v for k, v in info.get("metrics", {}).items() if k.startswith("oot_")},
            score_scale=ScoreScaleInfo(
                base_score=model.scale.base_score,
                base_odds=model.scale.base_odds,
                pdo=model.scale.pdo,
                formula="score = offset + factor · ln((1 − PD) / PD)",
                offset=model.scale.offset,
                factor=model.scale.factor,
            ),
            grades=[GradeRow(**row) for row in model.master.table(model.scale)],
            decision_bands={
                p: DecisionBand(**c) for p, c in model.policy.to_dict()["cutoffs"].items()
            },
            features=features,
        )

    # -- internals ------------------------------------------------------------------------
    def _responses(
        self,
        X: np.ndarray,
        requests: Sequence[ScoreRequest],
        sources: Sequence[Mapping[str, Mapping[str, np.ndarray]]],
        handle: ModelHandle,
    ) -> list[ScoreResponse]:
        """One response per request; ``sources`` are each request's ``to_sources`` columns,
        so the ignored-as-future counts reuse the conversion the feature build made."""
        scored = kernel.score(handle.model, X, [r.application.product for r in requests])
        assert scored.reasons is not None  # asked for with top=TOP_REASONS
        model = handle.describe()
        out = []
        for i, (req, columns) in enumerate(zip(requests, sources, strict=True)):
            future = req.future_records(columns)
            out.append(
                ScoreResponse(
                    request_id=uuid.uuid4().hex,
                    credit_code=req.firm.credit_code,
                    loan_id=req.application.loan_id,
                    product=req.application.product,
                    as_of=req.application.as_of,
                    pd=float(scored.pd[i]),
                    score=float(scored.score[i]),
                    grade=int(scored.grade[i]),
                    decision=str(scored.decision[i]),
                    peer_percentile=(
                        None if scored.percentile is None else float(scored.percentile[i])
                    ),
                    reasons=Reasons.model_validate(scored.reasons[i]),
                    base_points=float(scored.base_points[i]),
                    family_points=scored.family_points_of(i),
                    ignored_future_records={k: v for k, v in future.items() if v},
                    ignored_future_total=int(sum(future.values())),
                    model=model,
                )
            )
        return out

    def _record(
        self,
        request: ScoreRequest,
        result: ScoreResponse,
        channel: str,
        idempotency_key: str | None = None,
    ) -> DecisionRecord:
        reasons = [
            {"direction": direction, **reason.model_dump(mode="json")}
            for direction in ("raise_risk", "lower_risk")
            for reason in getattr(result.reasons, direction)
        ]
        return DecisionRecord(
            request_id=result.request_id,
            credit_code=result.credit_code,
            product=result.product,
            as_of=result.as_of,
            model_name=result.model.name,
            model_version=result.model.version,
            pd=result.pd,
            score=result.score,
            grade=result.grade,
            decision=result.decision,
            reasons=reasons,
            input=canonical_object(request.model_dump(mode="json")),
            channel=channel,
            idempotency_key=idempotency_key,
            response=None if idempotency_key is None else result.model_dump(mode="json"),
        )
