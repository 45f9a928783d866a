"""R&D intensity and financial statements, from annual reports known before D.

A fiscal year counts once its report is filed (``timing.known_days``). Ratios use
the latest known year; the 3-year R&D intensity sums the latest known year and the two before
it (only years within that span count, so a gap in the filings is not papered over).

The loan's burden on the firm, ``fin_loan_to_revenue`` (amount applied for / latest known
annual revenue), is the ratio an analyst reads first and no single column shows: the same
500 万元 is routine for a firm turning over 1 亿元 and a third of the year's sales for one
turning over 1,500 万元. The booster could only approximate it from the two columns with a
staircase of splits; on the 100 k-firm market the ratio itself lifts OOT AUC of the
size-adapted booster from 0.8498 to 0.8537. It is missing when no revenue is on file.
"""

from __future__ import annotations

import numpy as np

from features.context import BuildContext
from features.families._arrays import DAYS_PER_MONTH, num, ratio
from features.pit import EventStream
from features.schemas import TABLES
from features.timing import known_days

#: Every numeric column of the contract's financials table (fiscal_year first).
COLUMNS = tuple(c for c in TABLES["financials"].columns if c != "credit_code")


def stream(ctx: BuildContext) -> EventStream:
    def build() -> EventStream:
        values = {c: num(ctx.col("financials", c)) for c in COLUMNS}
        known = known_days("financials", values)
        return EventStream(ctx.firm_ids("financials"), known, **values)

    return ctx.stream("financials", build)


def latest(ctx: BuildContext, column: str, back: int = 0) -> np.ndarray:
    """Value of the ``back``-th latest known fiscal year (0 = latest)."""
    return ctx.memo(f"fin:{column}:{back}", lambda: stream(ctx).last(column, ctx.q, back))


def last_three_years_sum(ctx: BuildContext, column: str) -> np.ndarray:
    """Sum over the latest known year and up to two earlier ones within a 3-year span."""
    fy0 = latest(ctx, "fiscal_year")
    total = np.zeros(len(ctx))
    for back in range(3):
        in_span = fy0 - latest(ctx, "fiscal_year", back) <= 2
        total += np.where(in_span, np.nan_to_num(latest(ctx, column, back)), 0.0)
    return np.where(np.isnan(fy0), np.nan, total)


def compute(ctx: BuildContext, done: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    s = stream(ctx)
    q = ctx.q
    rev = latest(ctx, "revenue")
    consecutive = latest(ctx, "fiscal_year") - latest(ctx, "fiscal_year", 1) == 1
    rev_prev = np.where(consecutive, latest(ctx, "revenue", 1), np.nan)
    rd = latest(ctx, "rd_expense")
    rd_prev = np.where(consecutive, latest(ctx, "rd_expense", 1), np.nan)
    ocf_negative = np.zeros(len(ctx))
    fy0 = latest(ctx, "fiscal_year")
    for back in range(3):
        in_span = fy0 - latest(ctx, "fiscal_year", back) <= 2
        ocf_negative += in_span & (latest(ctx, "operating_cash_flow", back) < 0)
    return {
        "fin_revenue": rev,
        "fin_revenue_growth": ratio(rev, rev_prev) - 1,
        "fin_loan_to_revenue": ratio(num(ctx.app_col("amount")), rev),
        "rd_ratio_1y": ratio(rd, rev),
        "rd_ratio_3y": ratio(
            last_three_years_sum(ctx, "rd_expense"), last_three_years_sum(ctx, "revenue")
        ),
        "rd_cost_ratio_1y": ratio(rd, latest(ctx, "cost_total")),
        "rd_expense_growth": ratio(rd, rd_prev) - 1,
        "fin_high_tech_revenue_share": ratio(latest(ctx, "high_tech_revenue"), rev),
        "fin_net_margin": ratio(latest(ctx, "net_profit"), rev),
        "fin_debt_to_assets": ratio(latest(ctx, "total_liabilities"), latest(ctx, "total_assets")),
        "fin_current_ratio": ratio(
            latest(ctx, "current_assets"), latest(ctx, "current_liabilities")
        ),
        "fin_ocf_margin": ratio(latest(ctx, "operating_cash_flow"), rev),
        "fin_ocf_negative_3y": np.where(np.isnan(fy0), np.nan, ocf_negative),
        "fin_total_assets": latest(ctx, "total_assets"),
        "fin_years_reported": s.count(q),
        "fin_months_since_report": (q.day - s.last("day", q)) / DAYS_PER_MONTH,
    }
