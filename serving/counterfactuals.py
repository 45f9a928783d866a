"""Counterfactual suggestions: the cheapest plausible changes that lift a firm's grade.

No library searches counterfactuals for a gradient-boosted PD with monotone constraints whose
inputs are *raw records* (optbinning's counterfactuals are for its scorecards, and feature-space
methods such as DiCE would propose feature vectors no firm's records can produce). The search
here is exhaustive over a small, plausible grid, in the what-if language (``serving.whatif``):

- **levers** are the actionable inputs a firm controls within about a year: invention patents
  granted, R&D spend, overdues cleared, a new equity round, a better tax rating. Each moves its
  features only in the direction the feature registry marks as lowering risk (more granted
  inventions, more equity, fewer overdues, a better rating); R&D intensity has no known
  direction (a sweet spot), so R&D is only raised to the policy thresholds (科技型中小企业
  R&D bands, 高企 intensity) and never beyond twice the firm's current spend;
- **plausible ranges** come from the firm itself: no more patents than max(2, its pending
  invention applications), rounds no larger than max(2 × its last round, half its assets),
  one notch of tax rating;
- **cost** is in effort units (1 ≈ one more granted invention patent; R&D costs 1 per
  percentage point of revenue added; see ``_COST``); combinations add their parts' costs;
- every combination of at most three levers is built from raw records and scored in **one**
  feature build and one prediction (each candidate is a copy of the firm under its own key);
  the cheapest that reach the goal, none containing another, are then re-scored one by one
  through the scorer's own path, and only what that verification confirms is returned.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from features.build import build_feature_matrix
from features.schemas import RATINGS
from serving.schemas import ScoreRequest, to_sources
from serving.scoring import Scorer
from serving.whatif import (
    ChangeNotApplicable,
    ClearOverdues,
    EquityRound,
    InventionPatents,
    RdExpense,
    TaxRatingChange,
    apply_changes,
    describe,
    known_before,
)

Goal = Literal["next_grade", "approve"]
#: Levers combined in one suggestion at most: more reads as a business plan, not a suggestion.
MAX_LEVERS = 3
#: R&D intensity targets (share of revenue): 科技型中小企业 R&D bands and 高企 thresholds.
RD_TARGETS = (0.03, 0.04, 0.05, 0.06, 0.08)
#: R&D spend may at most double in a year (or reach 3 % of revenue when there was none).
RD_MAX_FACTOR = 2.0
#: Round sizes tried (万元), capped per firm; a firm's own last round size is tried too.
ROUND_SIZES = (500.0, 1_000.0, 2_000.0, 5_000.0)
#: Effort units per lever (1 ≈ one more granted invention patent).
_COST = {
    "invention_patents": 1.0,  # per patent
    "rd_expense": 1.0,  # per percentage point of revenue added
    "clear_overdues": 2.0,
    "equity_round": 2.0,  # plus 1 per 1,000 万元 raised
    "tax_rating": 1.5,
}


class CounterfactualOptions(BaseModel):
    """What the suggestions aim at: one grade up, or the product's approve band."""

    model_config = ConfigDict(extra="forbid")

    goal: Goal = "next_grade"
    top: int = Field(default=3, ge=1, le=5)


@dataclass(frozen=True)
class Option:
    """One lever at one level: the change and what it costs."""

    lever: str
    change: Any
    cost: float
    #: The change in words with the firm's own context ("from 183 万元, 3 % of revenue");
    #: None: ``serving.whatif.describe``.
    text: dict[str, str] | None = None


def options(request: ScoreRequest) -> dict[str, list[Option]]:
    """The plausible levels of every lever that applies to this firm, cheapest first."""
    as_of = request.application.as_of
    out: dict[str, list[Option]] = {}
    pending = sum(
        1
        for a in request.ip_assets
        if a.ip_type == "invention" and a.granted_on is None and a.filed_on < as_of
    )
    most = min(5, max(2, pending))
    out["invention_patents"] = [
        Option("invention_patents", InventionPatents(kind="invention_patents", count=n), n * 1.0)
        for n in range(1, most + 1)
    ]
    rd = _rd_options(request)
    if rd:
        out["rd_expense"] = rd
    overdue = [e for e in request.credit_events if e.kind == "overdue" and e.event_on < as_of]
    if overdue:
        out["clear_overdues"] = [
            Option("clear_overdues", ClearOverdues(kind="clear_overdues"), _COST["clear_overdues"])
        ]
    out["equity_round"] = _round_options(request)
    better = _better_rating(request)
    if better is not None:
        out["tax_rating"] = [
            Option(
                "tax_rating", TaxRatingChange(kind="tax_rating", rating=better), _COST["tax_rating"]
            )
        ]
    return out


def _latest_filed(request: ScoreRequest) -> Any:
    as_of = request.application.as_of
    filed = [f for f in request.financials if known_before("financials", f, as_of)]
    return max(filed, key=lambda f: f.fiscal_year) if filed else None


def _rd_options(request: ScoreRequest) -> list[Option]:
    latest = _latest_filed(request)
    if latest is None or not latest.revenue:
        return []
    spend = latest.rd_expense or 0.0
    cap = RD_MAX_FACTOR * spend if spend > 0 else RD_TARGETS[0] * latest.revenue
    out = []
    for target in RD_TARGETS:
        value = target * latest.revenue
        if spend < value <= cap + 1e-9:
            added_points = 100 * (value - spend) / latest.revenue
            change = RdExpense(kind="rd_expense", value=round(value, 1))
            text = {
                "zh": f"最近年度研发费用由 {spend:,.0f} 万元增至 {value:,.0f} 万元"
                f"（达营业收入的 {target:.0%}）",
                "en": f"R&D spend of the latest year raised from CNY {spend / 100:,.2f}m to "
                f"{value / 100:,.2f}m ({target:.0%} of revenue)",
            }
            out.append(Option("rd_expense", change, _COST["rd_expense"] * added_points, text))
    return out


def _round_options(request: ScoreRequest) -> list[Option]:
    last = max(request.financing_rounds, key=lambda r: r.closed_on, default=None)
    latest = _latest_filed(request)
    assets = (latest.total_assets or 0.0) if latest is not None else 0.0
    cap = max(2 * last.amount if last else 0.0, 0.5 * assets, ROUND_SIZES[0])
    sizes = sorted({s for s in ROUND_SIZES if s <= cap} | ({last.amount} if last else set()))
    stage = _next_stage(last.round if last else None)
    return [
        Option(
            "equity_round",
            EquityRound(kind="equity_round", amount=size, round=stage, lead_investor_tier=2),
            _COST["equity_round"] + size / 1_000.0,
        )
        for size in sizes
    ]


def _next_stage(last: str | None) -> str:
    ladder = ("seed", "angel", "A", "B", "C+")
    if last is None:
        return "angel"
    return ladder[min(ladder.index(last) + 1, len(ladder) - 1)] if last in ladder else last


def _better_rating(request: ScoreRequest) -> str | None:
    """One notch above the latest published rating (None when already A or never rated)."""
    as_of = request.application.as_of
    published = [t for t in request.tax_ratings if known_before("tax_ratings", t, as_of)]
    if not published:
        return None
    latest = max(published, key=lambda t: t.year).rating
    k = RATINGS.index(latest)
    return RATINGS[k - 1] if k > 0 else None


def _combinations(levers: dict[str, list[Option]]) -> list[tuple[Option, ...]]:
    """Every choice of at most ``MAX_LEVERS`` levers, each at one of its levels."""
    names = list(levers)
    combos: list[tuple[Option, ...]] = []
    for k in range(1, MAX_LEVERS + 1):
        for chosen in itertools.combinations(names, k):
            combos.extend(itertools.product(*(levers[n] for n in chosen)))
    return combos


def _candidate_requests(
    request: ScoreRequest, combos: Sequence[tuple[Option, ...]]
) -> tuple[list[int], list[ScoreRequest]]:
    """The combos that apply to this firm (index) and their changed requests."""
    kept, changed = [], []
    for i, combo in enumerate(combos):
        try:
            changed.append(apply_changes(request, [o.change for o in combo]))
        except ChangeNotApplicable:
            continue
        kept.append(i)
    return kept, changed


def _score_copies(scorer: Scorer, requests: Sequence[ScoreRequest]) -> tuple[np.ndarray, ...]:
    """(pd, grade) of many variants of one firm with one feature build and one prediction.

    Each variant's records go under a key of its own, so the build sees distinct firms.
    """
    parts = [to_sources(r) for r in requests]
    sources: dict[str, dict[str, np.ndarray]] = {}
    for table in parts[0][0]:
        columns = {}
        for column in parts[0][0][table]:
            if column == "credit_code":
                columns[column] = np.concatenate(
                    [
                        np.full(len(s[table][column]), f"v{k}", dtype=object)
                        for k, (s, _) in enumerate(parts)
                    ]
                )
            else:
                columns[column] = np.concatenate([s[table][column] for s, _ in parts])
        sources[table] = columns
    applications = {column: np.concatenate([a[column] for _, a in parts]) for column in parts[0][1]}
    applications["credit_code"] = np.array([f"v{k}" for k in range(len(parts))], dtype=object)
    X = build_feature_matrix(sources, applications)
    scored = scorer.evaluate(X, parts[0][1]["product"][0], top=0)
    return scored.pd, scored.grade


def suggest(
    scorer: Scorer, request: ScoreRequest, goal: Goal = "next_grade", top: int = 3
) -> dict[str, Any]:
    """Up to ``top`` cheapest verified suggestions that reach ``goal`` for this firm.

    ``scorer`` should have no audit store: the variants are hypotheses, not decisions.
    """
    started = time.perf_counter()
    original = scorer.score_many([request], channel="counterfactual")[0].model_dump(mode="json")
    model = scorer.model
    product = request.application.product
    target_grade = max(1, original["grade"] - 1)

    def reached(pd_: np.ndarray, grade: np.ndarray) -> np.ndarray:
        if goal == "approve":
            return model.decide(pd_, product) == "approve"
        return grade <= target_grade

    summary = {
        "goal": goal,
        "original": original,
        "target_grade": target_grade if goal == "next_grade" else None,
    }
    already = original["decision"] == "approve" if goal == "approve" else original["grade"] == 1
    if already:
        return summary | _timing(started, 0) | {"suggestions": [], "status": "already_there"}

    combos = _combinations(options(request))
    kept, changed = _candidate_requests(request, combos)
    if not changed:
        return summary | _timing(started, 0) | {"suggestions": [], "status": "no_levers"}
    pd_, grade = _score_copies(scorer, changed)
    ok = np.flatnonzero(reached(pd_, grade))
    order = sorted(
        ok.tolist(),
        key=lambda j: (sum(o.cost for o in combos[kept[j]]), len(combos[kept[j]]), pd_[j]),
    )
    picked: list[int] = []
    for j in order:
        levers = {o.lever for o in combos[kept[j]]}
        if any({o.lever for o in combos[kept[p]]} <= levers for p in picked):
            continue  # a cheaper suggestion already uses a subset of these levers
        picked.append(j)
        if len(picked) == top:
            break
    verified = [
        r.model_dump(mode="json")
        for r in scorer.score_many([changed[j] for j in picked], channel="counterfactual")
    ]
    suggestions = []
    for j, result in zip(picked, verified, strict=True):
        combo = combos[kept[j]]
        if not reached(np.array([result["pd"]]), np.array([result["grade"]]))[0]:
            continue  # never expected (same path); dropped rather than promised
        suggestions.append(
            {
                "changes": [o.change.model_dump() for o in combo],
                "texts": [o.text or describe(o.change) for o in combo],
                "cost": round(sum(o.cost for o in combo), 2),
                "pd": result["pd"],
                "score": result["score"],
                "grade": result["grade"],
                "decision": result["decision"],
            }
        )
    status = "found" if suggestions else "not_reachable"
    return (
        summary
        | _timing(started, len(changed))
        | {
            "suggestions": suggestions,
            "status": status,
        }
    )


def _timing(started: float, candidates: int) -> dict[str, Any]:
    return {
        "candidates_scored": candidates,
        "elapsed_ms": round(1000 * (time.perf_counter() - started), 1),
    }
