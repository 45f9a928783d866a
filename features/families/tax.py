"""纳税信用等级: the tax authority's annual A/B/M/C/D rating, known from April of Y+1."""

from __future__ import annotations

import numpy as np

from features.context import BuildContext
from features.families._arrays import codes, num
from features.families.windows import MONTHS_36, calendar_window
from features.pit import EventStream
from features.registry import TAX_RATINGS
from features.timing import known_days


def stream(ctx: BuildContext) -> EventStream:
    def build() -> EventStream:
        level = codes(ctx.col("tax_ratings", "rating"), TAX_RATINGS, first=1)  # A=1 … D=5
        year = num(ctx.col("tax_ratings", "year"))
        return EventStream(
            ctx.firm_ids("tax_ratings"),
            known_days("tax_ratings", {"year": year}),
            level=level,
            is_a=(level == 1).astype(np.float64),
        )

    return ctx.stream("tax", build)


def compute(ctx: BuildContext, done: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    s = stream(ctx)
    q = ctx.q
    years_3 = ctx.memo("window:36 calendar months", lambda: calendar_window(q.day, MONTHS_36))
    rated_3y = s.count(q, years_3)
    return {
        "tax_rating_latest": s.last("level", q),
        "tax_rating_worst_3y": s.max("level", q, years_3),
        "tax_a_years_3y": np.where(rated_3y > 0, s.sum("is_a", q, years_3), np.nan),
        "tax_years_rated": s.count(q),
    }
