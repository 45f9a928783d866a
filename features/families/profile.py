"""The firm's age and field, and the terms of the application itself.

Name, district and the undated snapshot flags of ``firms`` (is_specialized, is_listed…) are
deliberately not features: the first two must not move a PD, and the flags describe the
firm at the end of the data, not as of D.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.context import BuildContext
from features.families._arrays import DAYS_PER_YEAR, num
from features.registry import GUARANTEES, INDUSTRIES, PRODUCTS


def _codes(values: pd.Series | np.ndarray, categories: tuple[str, ...]) -> np.ndarray:
    """0-based category codes; unknown values become NaN (LightGBM's missing category)."""
    codes = pd.Categorical(np.asarray(values), categories=categories).codes.astype(np.float64)
    codes[codes < 0] = np.nan
    return codes


def compute(ctx: BuildContext, done: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    firms = ctx.table("firms")
    row = ctx.firm_row
    founded = ctx.days("firms", "founded_on")[row]
    apps = ctx.apps
    return {
        "firm_age_years": (ctx.q.day - founded) / DAYS_PER_YEAR,
        "firm_industry": _codes(firms["industry"].to_numpy()[row], INDUSTRIES),
        "firm_registered_capital": num(firms, "registered_capital")[row],
        "app_product": _codes(apps["product"], PRODUCTS),
        "app_amount": num(apps, "amount"),
        "app_term_months": num(apps, "term_months"),
        "app_guarantee": _codes(apps["guarantee"], GUARANTEES),
    }
