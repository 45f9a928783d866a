"""Equity rounds: VC backing, money raised, and the gap since the latest round (断点)."""

from __future__ import annotations

import numpy as np

from features.context import BuildContext
from features.families._arrays import DAYS_PER_MONTH, num
from features.pit import EventStream
from features.registry import ROUNDS

_STAGE = {r: i + 1 for i, r in enumerate(ROUNDS)}


def stream(ctx: BuildContext) -> EventStream:
    def build() -> EventStream:
        t = ctx.table("financing_rounds")
        return EventStream(
            ctx.firm_ids("financing_rounds"),
            ctx.days("financing_rounds", "closed_on"),
            amount=num(t, "amount"),
            tier=num(t, "lead_investor_tier"),
            stage=t["round"].map(_STAGE).to_numpy(dtype=np.float64, na_value=np.nan),
        )

    return ctx.stream("financing", build)


def compute(ctx: BuildContext, done: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    s = stream(ctx)
    q = ctx.q
    return {
        "vc_rounds": s.count(q),
        "vc_raised_total": s.sum("amount", q),
        "vc_raised_24m": s.sum("amount", q, 730),
        "vc_months_since_round": s.days_since_last(q) / DAYS_PER_MONTH,
        "vc_last_round_amount": s.last("amount", q),
        "vc_best_lead_tier": s.min("tier", q),
        "vc_stage": s.last("stage", q),
    }
