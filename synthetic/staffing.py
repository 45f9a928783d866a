"""Monthly social-insurance headcounts, the largest table (≈ 7 M rows at 100,000 firms).

Headcount follows revenue at the firm's revenue per employee, a hiring ramp in the first
years and health (a firm in trouble sheds staff, about 35 % per unit of health). Yearly
levels are anchored mid-year and interpolated month by month, so 12-month staff growth reads
the change in health. The staff mix is a firm trait with small monthly noise; the insured
share falls when health does (unpaid social insurance is an early distress signal).
Generated with one ``np.repeat`` over firm-months, no per-firm loop.
"""

from __future__ import annotations

import numpy as np

from synthetic import calibration as cal
from synthetic.dates import DAYS_PER_YEAR, month_index, month_start, window_end, year_start, years
from synthetic.draws import expand, position_in_group
from synthetic.population import Population

HEALTH_ON_HEADCOUNT = 0.35
HEALTH_ON_INSURED = 0.05
MAX_EMPLOYEES = 5_000


def staffing_rows(pop: Population, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One row per firm-month from max(founding, FIRST_STAFFING_YEAR-01) to the window end."""
    n, n_years = pop.n, len(years())
    first_month = month_index(year_start(cal.FIRST_STAFFING_YEAR))
    last_month = month_index(np.array(window_end()))
    start = np.maximum(month_index(pop.founded), first_month)
    counts = np.where(pop.thin_staffing, 0, np.maximum(last_month - start + 1, 0))
    firm = expand(counts)
    month = start[firm] + position_in_group(counts)

    mid_year = year_start(years()) + 182
    age_mid = np.maximum((mid_year[None, :] - pop.founded[:, None]) / DAYS_PER_YEAR, 0.05)
    ramp = 1 - np.exp(-(age_mid + 0.5) / 2.0)
    anchors = (
        pop.scale[:, None]
        - np.log(pop.revenue_per_employee)[:, None]
        + np.log(ramp)
        + HEALTH_ON_HEADCOUNT * pop.health
        + 0.08 * rng.standard_normal((n, n_years))
    )
    # fractional position of each month between the mid-year anchors
    t = (month - month_index(year_start(years()[0]) + 182)) / 12.0
    k = np.clip(np.floor(t).astype(np.int64), 0, n_years - 2)
    w = np.clip(t - k, 0.0, 1.0)
    size = len(firm)
    log_emp = (1 - w) * anchors[firm, k] + w * anchors[firm, k + 1]
    employees = np.clip(
        np.round(np.exp(log_emp + 0.03 * rng.standard_normal(size))), 1, MAX_EMPLOYEES
    )
    health = (1 - w) * pop.health[firm, k] + w * pop.health[firm, k + 1]

    rd_share = np.clip(pop.rd_staff_share[firm] * np.exp(0.05 * rng.standard_normal(size)), 0, 0.9)
    tech_share = np.maximum(
        rd_share, np.clip(pop.tech_staff_share[firm] + 0.02 * rng.standard_normal(size), 0, 1)
    )
    college = np.clip(pop.college_share[firm] + 0.02 * rng.standard_normal(size), 0, 1)
    insured = np.clip(
        0.93
        + 0.03 * rng.standard_normal(n)[firm]
        + HEALTH_ON_INSURED * health
        + 0.02 * rng.standard_normal(size),
        0.3,
        1.0,
    )

    rd_staff = np.minimum(np.round(employees * rd_share), employees)
    return {
        "firm": firm,
        "month": month_start(month),
        "employees": employees.astype(np.int64),
        "rd_staff": rd_staff.astype(np.int64),
        "tech_staff": np.clip(np.round(employees * tech_share), rd_staff, employees).astype(
            np.int64
        ),
        "college_educated": np.minimum(np.round(employees * college), employees).astype(np.int64),
        "social_insured": np.minimum(np.round(employees * insured), employees).astype(np.int64),
    }
