"""What the service answers, as pydantic types: the OpenAPI page documents them field by field.

Every response is rendered from the scoring kernel's columnar result (``models.kernel.Scored``)
and the model's identity; the JSON field names are the service's public contract, and the
audit stores the reasons exactly as they are rendered here. The OpenAPI document
(``serving.openapi``) declares these types as the answers, and the schemathesis run against a
real server checks every answer against them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from serving.whatif import Change


class ModelInfo(BaseModel):
    """Which model answered: its registry name, version, alias and URI."""

    name: str
    version: str
    alias: str | None
    uri: str


class FeatureReason(BaseModel):
    """One feature speaking for its family: the firm's value beside the peer reference."""

    feature: str
    value: float | None = Field(description="the firm's value; null when it has no record")
    reference: float | None = Field(description="industry (or overall) median of training")
    points: float = Field(description="score points of this feature; negative raises risk")
    zh: str
    en: str


class Reason(BaseModel):
    """One feature family's reason (IP, credit record, …) with its points and leading features."""

    family: str
    family_zh: str
    family_en: str
    points: float = Field(description="the family's score points; negative raises risk")
    features: list[FeatureReason]
    zh: str
    en: str


class Reasons(BaseModel):
    """The families that raise the risk (most first) and those that lower it (most first)."""

    raise_risk: list[Reason]
    lower_risk: list[Reason]


class ScoreResponse(BaseModel):
    """One firm's decision. ``base_points`` plus every ``family_points`` value is ``score``."""

    request_id: str = Field(description="key of the decision's audit record")
    credit_code: str
    loan_id: str | None
    product: str
    as_of: dt.date
    pd: float = Field(description="calibrated probability of default within 12 months")
    score: float = Field(description="score points, higher is safer")
    grade: int = Field(description="master-scale grade, 1 best")
    decision: Literal["approve", "review", "decline"]
    peer_percentile: float | None = Field(
        description="safer than this % of peers (industry × size × age); null without cohorts"
    )
    reasons: Reasons
    base_points: float
    family_points: dict[str, float]
    ignored_future_records: dict[str, int] = Field(
        description="per table, records known only on or after as_of, ignored (non-zero only)"
    )
    ignored_future_total: int
    model: ModelInfo


class FieldError(BaseModel):
    """A broken rule: the field (dotted path), the value sent, the rule in words."""

    field: str
    value: Any = Field(default=None, description="the value sent; absent when missing or null")
    rule: str


class ScoredItem(BaseModel):
    """A batch item that was scored."""

    index: int
    ok: Literal[True]
    result: ScoreResponse


class RejectedItem(BaseModel):
    """A batch item that was not scored, with every rule it broke."""

    index: int
    ok: Literal[False]
    errors: list[FieldError]


class ScoreBatchResponse(BaseModel):
    """Each item of the batch, in order: its result or its own errors."""

    items: list[ScoredItem | RejectedItem]
    scored: int
    rejected: int


class FeatureInfo(BaseModel):
    """A feature of the model, as the reasons name it."""

    name: str
    family: str
    zh: str
    en: str
    unit: str
    direction: int = Field(description="1: more is safer, -1: more is riskier, 0: not fixed")


class ScoreScaleInfo(BaseModel):
    """How a PD becomes score points."""

    base_score: float
    base_odds: float
    pdo: float
    formula: str
    offset: float
    factor: float


class GradeRow(BaseModel):
    """One grade of the master scale: its PD range and the matching score range."""

    grade: int
    pd_low: float
    pd_high: float
    score_high: float
    score_low: float


class DecisionBand(BaseModel):
    """A product's cut-offs: approve if PD ≤ approve_max, decline if PD > decline_min."""

    approve_max: float
    decline_min: float


class Metadata(BaseModel):
    """The served model: identity, training window, out-of-time metrics, scale, features."""

    model: ModelInfo
    training_window: dict[str, str]
    oot_metrics: dict[str, float]
    score_scale: ScoreScaleInfo
    grades: list[GradeRow]
    decision_bands: dict[str, DecisionBand]
    features: list[FeatureInfo]


class ErrorResponse(BaseModel):
    """A refused request: what went wrong and, for invalid input, every broken rule."""

    error: str
    errors: list[FieldError] | None = None


class AppliedChange(BaseModel):
    """A what-if change as applied: its fields (``serving.whatif``) and the change in words."""

    model_config = ConfigDict(extra="allow")

    kind: str
    zh: str
    en: str


class ScoreDelta(BaseModel):
    """The modified firm's figures minus the original's."""

    pd: float
    score: float
    grade: int


class WhatIfResponse(BaseModel):
    """The firm as sent and with the changes, side by side: hypotheses, not decisions."""

    original: ScoreResponse
    modified: ScoreResponse
    changes: list[AppliedChange]
    delta: ScoreDelta
    model: ModelInfo


class ChangeText(BaseModel):
    """A change in the loan officer's words, with the firm's own context."""

    zh: str
    en: str


class Suggestion(BaseModel):
    """A combination of changes that reaches the goal, verified by scoring it again."""

    changes: list[Change]
    texts: list[ChangeText]
    cost: float = Field(description="effort units; 1 is about one more granted invention")
    pd: float
    score: float
    grade: int
    decision: Literal["approve", "review", "decline"]


class CounterfactualResponse(BaseModel):
    """The cheapest verified suggestions towards the goal, and the size of the search."""

    goal: Literal["next_grade", "approve"]
    original: ScoreResponse
    target_grade: int | None = Field(description="the grade aimed at; null for approve")
    candidates_scored: int
    elapsed_ms: float
    suggestions: list[Suggestion]
    status: Literal["found", "not_reachable", "already_there", "no_levers"]
    model: ModelInfo


class ReloadedModel(BaseModel):
    """A served alias after the registry was asked: the version it names now, and before."""

    uri: str
    previous: str
    version: str
    changed: bool


class ReloadResponse(BaseModel):
    """Every alias the service follows (the champion, and the shadow's when one is set)."""

    models: list[ReloadedModel]
