"""Staff structure from monthly social-insurance headcounts known before D."""

from __future__ import annotations

import numpy as np

from features.context import BuildContext
from features.families._arrays import num, ratio
from features.families.windows import DAYS_12M, DAYS_24M
from features.pit import EventStream
from features.timing import known_days

COLUMNS = ("employees", "rd_staff", "tech_staff", "college_educated", "social_insured")


def stream(ctx: BuildContext) -> EventStream:
    def build() -> EventStream:
        known = known_days("staffing", {"month": ctx.days("staffing", "month")})
        values = {c: num(ctx.col("staffing", c)) for c in COLUMNS}
        return EventStream(ctx.firm_ids("staffing"), known, **values)

    return ctx.stream("staffing", build)


def latest(ctx: BuildContext, column: str) -> np.ndarray:
    return ctx.memo(f"staff:{column}", lambda: stream(ctx).last(column, ctx.q))


def compute(ctx: BuildContext, done: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    s = stream(ctx)
    employees = latest(ctx, "employees")
    year_ago = s.last("employees", ctx.q.shifted(DAYS_12M))
    return {
        "staff_employees": employees,
        "staff_tech_share": ratio(latest(ctx, "tech_staff"), employees),
        "staff_rd_share": ratio(latest(ctx, "rd_staff"), employees),
        "staff_college_share": ratio(latest(ctx, "college_educated"), employees),
        "staff_insured_share": ratio(latest(ctx, "social_insured"), employees),
        "staff_growth_12m": ratio(employees, year_ago) - 1,
        "staff_months_reported_24m": s.count(ctx.q, DAYS_24M),
    }
