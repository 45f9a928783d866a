"""Equity rounds: VC backing, money raised, and the gap since the latest round (断点)."""

from __future__ import annotations

import numpy as np

from features.context import BuildContext
from features.families._arrays import DAYS_PER_MONTH, codes, num
from features.families.windows import DAYS_24M
from features.pit import EventStream
from features.registry import ROUNDS


def stream(ctx: BuildContext) -> EventStream:
    def build() -> EventStream:
        return EventStream(
            ctx.firm_ids("financing_rounds"),
            ctx.days("financing_rounds", "closed_on"),
            amount=num(ctx.col("financing_rounds", "amount")),
            tier=num(ctx.col("financing_rounds", "lead_investor_tier")),
            stage=codes(ctx.col("financing_rounds", "round"), ROUNDS, first=1),
        )

    return ctx.stream("financing", build)


def compute(ctx: BuildContext, done: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    s = stream(ctx)
    q = ctx.q
    return {
        "vc_rounds": s.count(q),
        "vc_raised_total": s.sum("amount", q),
        "vc_raised_24m": s.sum("amount", q, DAYS_24M),
        "vc_months_since_round": s.days_since_last(q) / DAYS_PER_MONTH,
        "vc_last_round_amount": s.last("amount", q),
        "vc_best_lead_tier": s.min("tier", q),
        "vc_stage": s.last("stage", q),
    }
