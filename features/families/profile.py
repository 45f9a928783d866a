"""The firm's age and field, and the terms of the application itself.

Name, district and the undated snapshot flags of ``firms`` (is_specialized, is_listed…) are
deliberately not features: the first two must not move a PD, and the flags describe the
firm at the end of the data, not as of D.
"""

from __future__ import annotations

import numpy as np

from features.context import BuildContext
from features.families._arrays import DAYS_PER_YEAR, codes, num
from features.registry import GUARANTEES, INDUSTRIES, PRODUCTS


def compute(ctx: BuildContext, done: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    row = ctx.firm_row
    founded = ctx.days("firms", "founded_on")[row]
    return {
        "firm_age_years": (ctx.q.day - founded) / DAYS_PER_YEAR,
        "firm_industry": codes(ctx.col("firms", "industry")[row], INDUSTRIES),
        "firm_registered_capital": num(ctx.col("firms", "registered_capital"))[row],
        "app_product": codes(ctx.app_col("product"), PRODUCTS),
        "app_amount": num(ctx.app_col("amount")),
        "app_term_months": num(ctx.app_col("term_months")),
        "app_guarantee": codes(ctx.app_col("guarantee"), GUARANTEES),
    }
