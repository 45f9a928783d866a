"""Public support and technology-market records: vetting by someone else (DOMAIN.md)."""

from __future__ import annotations

import numpy as np

from features.context import BuildContext
from features.families._arrays import isin, num
from features.families.windows import DAYS_36M
from features.pit import EventStream

FUNDS = ("innovation_fund", "little_giant_fund", "achievement_conversion")
_COUNTED = ("innovation_voucher", "tech_contract", "university_project", "tax_relief")


def stream(ctx: BuildContext) -> EventStream:
    def build() -> EventStream:
        kind = ctx.col("support_records", "kind")
        values = {k: isin(kind, (k,)) for k in _COUNTED}
        amount = num(ctx.col("support_records", "amount"))
        values["fund_amount"] = np.where(isin(kind, FUNDS) > 0, amount, 0.0)
        return EventStream(
            ctx.firm_ids("support_records"), ctx.days("support_records", "event_on"), **values
        )

    return ctx.stream("support", build)


def compute(ctx: BuildContext, done: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    s = stream(ctx)
    q = ctx.q
    return {
        "sup_vouchers_36m": s.sum("innovation_voucher", q, DAYS_36M),
        "sup_fund_amount_36m": s.sum("fund_amount", q, DAYS_36M),
        "sup_tech_contracts_36m": s.sum("tech_contract", q, DAYS_36M),
        "sup_university_projects_36m": s.sum("university_project", q, DAYS_36M),
        "sup_tax_relief_36m": s.sum("tax_relief", q, DAYS_36M),
        "sup_records": s.count(q),
    }
