"""Scoring one firm or many: features → PD, score, grade, decision, percentile, reasons → audit.

This is the service's core without the web framework, so the BentoML service, batch screening
and the tests all call the same code. A decision is returned only after its audit row is
committed; if the store cannot take it, ``AuditUnavailable`` propagates and no score leaves.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from features.build import build_feature_matrix
from models.pd_model import PDModel
from serving.audit import AuditStore, DecisionRecord
from serving.schemas import ScoreRequest, to_sources

TOP_REASONS = 5


@dataclass(frozen=True)
class ModelHandle:
    """The loaded model and where it came from (for responses, metadata and the audit)."""

    model: PDModel
    name: str
    version: str
    alias: str | None
    uri: str

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "alias": self.alias, "uri": self.uri}


def _concat(parts: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not parts:
        return {}
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


class Scorer:
    def __init__(self, handle: ModelHandle, audit: AuditStore | None) -> None:
        self.handle = handle
        self.audit = audit

    @property
    def model(self) -> PDModel:
        return self.handle.model

    # -- public ---------------------------------------------------------------------------
    def score(self, request: ScoreRequest, channel: str = "score") -> dict[str, Any]:
        """Score one request, record it, return the response body."""
        sources, application = to_sources(request)
        X = build_feature_matrix(sources, application)
        result = self._results(X, [request])[0]
        if self.audit is not None:
            self.audit.record(self._record(request, result, channel))
        return result

    def score_many(
        self, requests: Sequence[ScoreRequest], channel: str = "score_batch"
    ) -> list[dict[str, Any]]:
        """Score many requests with one feature build and one prediction per group.

        All decisions are recorded in one transaction before any is returned.
        """
        results: list[dict[str, Any] | None] = [None] * len(requests)
        for group in _rounds(requests):
            converted = [to_sources(requests[i]) for i in group]
            tables = {t for s, _ in converted for t in s}
            sources = {t: _concat([s[t] for s, _ in converted if t in s]) for t in tables}
            X = build_feature_matrix(sources, _concat([a for _, a in converted]))
            for i, res in zip(group, self._results(X, [requests[i] for i in group]), strict=True):
                results[i] = res
        done = [r for r in results if r is not None]
        if self.audit is not None and done:
            self.audit.record_many(
                self._record(req, res, channel) for req, res in zip(requests, done, strict=True)
            )
        return done

    def metadata(self) -> dict[str, Any]:
        model = self.model
        features = []
        meta = model.reasons.meta if model.reasons else {}
        for name in model.features:
            m = meta.get(name)
            features.append(
                {
                    "name": name,
                    "family": m.family if m else "other",
                    "zh": m.zh if m else name,
                    "en": m.en if m else name,
                    "unit": m.unit if m else "",
                    "direction": m.direction if m else 0,
                }
            )
        info = model.info
        return {
            "model": self.handle.describe(),
            "training_window": info.get("window", {}),
            "oot_metrics": {
                k: v for k, v in info.get("metrics", {}).items() if k.startswith("oot_")
            },
            "score_scale": {
                "base_score": model.scale.base_score,
                "base_odds": model.scale.base_odds,
                "pdo": model.scale.pdo,
                "formula": "score = offset + factor · ln((1 − PD) / PD)",
                "offset": model.scale.offset,
                "factor": model.scale.factor,
            },
            "grades": model.master.table(model.scale),
            "decision_bands": model.policy.to_dict()["cutoffs"],
            "features": features,
        }

    # -- internals ------------------------------------------------------------------------
    def _results(self, X: np.ndarray, requests: Sequence[ScoreRequest]) -> list[dict[str, Any]]:
        model = self.model
        contrib = model.contributions(X)
        scores = model.scores_from_margin(contrib.sum(axis=1))
        base, points = model.points(contrib)
        products = np.array([r.application.product for r in requests], dtype=object)
        decisions = model.decide(scores.pd, products)
        percentile = model.peer_percentile(X, scores.pd)
        out = []
        for i, req in enumerate(requests):
            reasons = (
                model.reasons.explain(X[i], points[i], top=TOP_REASONS)
                if model.reasons is not None
                else {"raise_risk": [], "lower_risk": [], "family_points": {}}
            )
            future = req.future_records()
            out.append(
                {
                    "request_id": uuid.uuid4().hex,
                    "credit_code": req.firm.credit_code,
                    "loan_id": req.application.loan_id,
                    "product": req.application.product,
                    "as_of": req.application.as_of.isoformat(),
                    "pd": float(scores.pd[i]),
                    "score": float(scores.score[i]),
                    "grade": int(scores.grade[i]),
                    "decision": str(decisions[i]),
                    "peer_percentile": None if percentile is None else float(percentile[i]),
                    "reasons": {
                        "raise_risk": reasons["raise_risk"],
                        "lower_risk": reasons["lower_risk"],
                    },
                    "base_points": float(base[i]),
                    "family_points": reasons["family_points"],
                    "ignored_future_records": {k: v for k, v in future.items() if v},
                    "ignored_future_total": int(sum(future.values())),
                    "model": self.handle.describe(),
                }
            )
        return out

    def _record(
        self, request: ScoreRequest, result: dict[str, Any], channel: str
    ) -> DecisionRecord:
        reasons = [
            {"direction": direction, **reason}
            for direction in ("raise_risk", "lower_risk")
            for reason in result["reasons"][direction]
        ]
        return DecisionRecord(
            request_id=result["request_id"],
            credit_code=result["credit_code"],
            product=result["product"],
            as_of=dt.date.fromisoformat(result["as_of"]),
            model_name=self.handle.name,
            model_version=self.handle.version,
            pd=result["pd"],
            score=result["score"],
            grade=result["grade"],
            decision=result["decision"],
            reasons=reasons,
            input=request.model_dump(mode="json"),
            channel=channel,
        )
