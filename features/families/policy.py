"""Policy qualification, computed exactly as the policy texts say (DOMAIN.md).

科技型中小企业评价 (国科发政〔2017〕115号): staff, R&D and IP points, size and credit
eligibility, the fast track (直通车). 高新技术企业认定 (2016): the six checks our data can
test. The published bands and thresholds live in ``features/policy_rules.py``; this family
applies them point-in-time.
"""

from __future__ import annotations

import numpy as np

from features.context import BuildContext
from features.families.windows import HIGH_TECH_CERT_MONTHS
from features.pit import MISSING_DAY, add_months
from features.policy_rules import (
    BOUND_EPS,
    HNTE_MIN_HIGH_TECH_REVENUE_SHARE,
    HNTE_MIN_TECH_SHARE,
    TSME_MAX_ASSETS_WAN,
    TSME_MAX_EMPLOYEES,
    TSME_MAX_REVENUE_WAN,
    TSME_PASS_POINTS,
    hnte_rd_threshold,
    rd_band,
    tsme_ip_points,
    tsme_rd_points,
    tsme_staff_points,
)
from features.registry import INDUSTRIES


def high_tech_cert_valid(cert_day: np.ndarray, as_of: np.ndarray) -> np.ndarray:
    """A 高企 certificate issued before D and not older than 3 years at D.

    Only the latest certificate is on the contract, so a certificate dated on/after D says
    nothing about D: it reads as no certificate (anything else would leak the future).
    """
    has = cert_day != MISSING_DAY
    expiry = add_months(np.where(has, cert_day, 0), HIGH_TECH_CERT_MONTHS)
    return has & (cert_day < as_of) & (as_of <= expiry)


def _flag(condition: np.ndarray, known: np.ndarray) -> np.ndarray:
    return np.where(known, condition.astype(np.float64), np.nan)


def compute(ctx: BuildContext, done: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    q = ctx.q
    staff = tsme_staff_points(done["staff_tech_share"])
    rd = tsme_rd_points(done["rd_ratio_1y"], done["rd_cost_ratio_1y"])
    ip = tsme_ip_points(done["ip_class1_valid"], done["ip_class2_valid"])
    total = staff + rd + ip  # NaN when staff or R&D data are missing: not assessable

    employees, revenue = done["staff_employees"], done["fin_revenue"]
    assets = done["fin_total_assets"]
    size_known = ~(np.isnan(employees) | np.isnan(revenue) | np.isnan(assets))
    clean = (done["cr_dishonest_36m"] == 0) & (done["cr_abnormal_operation_24m"] == 0)
    size_ok = (
        (employees <= TSME_MAX_EMPLOYEES)
        & (revenue <= TSME_MAX_REVENUE_WAN)
        & (assets <= TSME_MAX_ASSETS_WAN)
    )
    eligible = _flag(size_ok & clean, size_known)

    cert_valid = high_tech_cert_valid(ctx.days("firms", "high_tech_cert_on")[ctx.firm_row], q.day)
    by_points = (total >= TSME_PASS_POINTS) & (staff > 0)
    qualified = np.where(
        cert_valid & (eligible == 1),
        1.0,
        np.where(np.isnan(total) | np.isnan(eligible), np.nan, ((eligible == 1) & by_points) * 1.0),
    )

    rd_3y = done["rd_ratio_3y"]
    rd_met = _flag(rd_3y + BOUND_EPS >= hnte_rd_threshold(revenue), ~np.isnan(rd_3y))
    checks = np.column_stack(
        [
            done["firm_age_years"] >= 1,
            (done["ip_class1_valid"] + done["ip_class2_valid"]) >= 1,
            done["firm_industry"] != INDUSTRIES.index("other"),
            done["staff_tech_share"] + BOUND_EPS >= HNTE_MIN_TECH_SHARE,
            rd_met == 1,
            done["fin_high_tech_revenue_share"] + BOUND_EPS >= HNTE_MIN_HIGH_TECH_REVENUE_SHARE,
        ]
    )
    return {
        "pol_tsme_staff_points": staff,
        "pol_tsme_rd_points": rd,
        "pol_tsme_ip_points": ip,
        "pol_tsme_points": total,
        "pol_tsme_size_eligible": eligible,
        "pol_tsme_fast_track": cert_valid.astype(np.float64),
        "pol_tsme_qualified": qualified,
        "pol_hnte_checks_met": checks.sum(axis=1).astype(np.float64),
        "pol_hnte_rd_met": rd_met,
        "pol_rd_band": rd_band(done["rd_ratio_1y"]),
    }
