"""Policy qualifications of each firm: 高企 certificates and the window-end status flags.

高企 certificates follow the 2016 认定管理办法: a firm in a high-tech field, a year old,
owning IP from its own R&D, with enough R&D intensity for its revenue and ≥ 60 % high-tech
revenue may apply (each year with some probability); approval odds rise with quality and
health; a certificate lasts 3 years and is renewed on the same test. Only the latest
certificate date is recorded (as in the contract). 科技型中小企业 status uses the evaluation
points of 国科发政〔2017〕115号 on the latest fiscal year (the policy feature family's own
point functions, so the flag and the features agree). 专精特新, 小巨人 and listing are drawn
from quality, health and size. All flags are snapshots at the window end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.pit import MISSING_DAY
from features.policy_rules import (
    HNTE_MIN_HIGH_TECH_REVENUE_SHARE,
    HNTE_MIN_TECH_SHARE,
    TSME_MAX_ASSETS_WAN,
    TSME_MAX_EMPLOYEES,
    TSME_MAX_REVENUE_WAN,
    TSME_PASS_POINTS,
    hnte_rd_threshold,
    tsme_ip_points,
    tsme_rd_points,
    tsme_staff_points,
)
from synthetic.dates import (
    DAYS_PER_YEAR,
    last_fiscal_year,
    uniform_between,
    window_end,
    year_start,
    years,
)
from synthetic.draws import sigmoid, top_share
from synthetic.financials import Accounts
from synthetic.financing import LATE_STAGES
from synthetic.ip import CLASS1_TYPES, CLASS2_TYPES
from synthetic.population import INDUSTRIES, SCALE_MEAN, Population

#: 高企 regime of 2008 onwards; a certificate is valid 3 years.
FIRST_CERT_YEAR = 2008
CERT_YEARS = 3
#: Yearly probability that an eligible uncertified firm applies.
APPLY_SHARE = 0.5
#: 科技型中小企业 入库 is voluntary: share of qualifying firms that register.
TSME_REGISTER_SHARE = 0.8
SPECIALIZED_SHARE = 0.10
LITTLE_GIANT_SHARE_OF_SPECIALIZED = 0.2
SPECIALIZED_INDUSTRIES = ("advanced_manufacturing", "new_materials", "electronic_info")


@dataclass(frozen=True)
class Qualifications:
    """Per-firm certificate date and window-end flags."""

    high_tech_cert_on: np.ndarray  # day of the latest 高企 certificate, MISSING_DAY if none
    is_high_tech: np.ndarray
    is_tech_sme: np.ndarray
    is_specialized: np.ndarray
    is_little_giant: np.ndarray
    is_listed: np.ndarray


def qualify(
    pop: Population,
    accounts: Accounts,
    ip: dict[str, np.ndarray],
    rounds: dict[str, np.ndarray],
    adverse_counts: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> Qualifications:
    """Certificates and flags (see the module docstring)."""
    cert_on = _high_tech_certificates(pop, accounts, ip, rng)
    is_high_tech = (cert_on != MISSING_DAY) & (
        cert_on + round(CERT_YEARS * DAYS_PER_YEAR) > window_end()
    )

    fy = last_fiscal_year() - years()[0]
    revenue = np.nan_to_num(accounts["revenue"][:, fy])
    assets = np.nan_to_num(accounts["total_assets"][:, fy])
    employees = np.exp(pop.scale) / pop.revenue_per_employee
    with np.errstate(invalid="ignore", divide="ignore"):
        rd_revenue = accounts["rd_expense"][:, fy] / accounts["revenue"][:, fy]
        rd_cost = accounts["rd_expense"][:, fy] / accounts["cost_total"][:, fy]
    class1, class2 = _valid_counts(pop.n, ip)
    points = (
        tsme_staff_points(pop.tech_staff_share)
        + np.nan_to_num(tsme_rd_points(rd_revenue, rd_cost))
        + tsme_ip_points(class1, class2)
    )
    small = (
        (employees <= TSME_MAX_EMPLOYEES)
        & (revenue <= TSME_MAX_REVENUE_WAN)
        & (assets <= TSME_MAX_ASSETS_WAN)
    )
    clean = (adverse_counts["enforcement_dishonest"][:, -1] == 0) & (
        adverse_counts["abnormal_operation"][:, -1] == 0
    )
    passes = ((points >= TSME_PASS_POINTS) & (tsme_staff_points(pop.tech_staff_share) > 0)) | (
        is_high_tech
    )
    is_tech_sme = small & clean & passes & (rng.random(pop.n) < TSME_REGISTER_SHARE)

    age = (window_end() - pop.founded) / DAYS_PER_YEAR
    field = np.isin(pop.industry, [INDUSTRIES.index(i) for i in SPECIALIZED_INDUSTRIES])
    spec_score = (
        0.8 * pop.quality
        + 0.5 * pop.health[:, -1]
        + 0.5 * field
        + 0.4 * (pop.scale - SCALE_MEAN)
        + rng.logistic(size=pop.n)
        - 5.0 * (age < 3)
    )
    is_specialized = top_share(spec_score, SPECIALIZED_SHARE)
    giant_score = np.where(
        is_specialized, pop.scale + pop.quality + rng.normal(size=pop.n), -np.inf
    )
    is_little_giant = top_share(giant_score, SPECIALIZED_SHARE * LITTLE_GIANT_SHARE_OF_SPECIALIZED)

    late_stage = np.zeros(pop.n, dtype=bool)
    late_stage[rounds["firm"][np.isin(rounds["round"], LATE_STAGES)]] = True
    p_listed = np.where(late_stage, 0.25, 0.004) * sigmoid(2.0 * (pop.scale - 9.5))
    is_listed = rng.random(pop.n) < p_listed
    return Qualifications(
        high_tech_cert_on=cert_on,
        is_high_tech=is_high_tech,
        is_tech_sme=is_tech_sme,
        is_specialized=is_specialized,
        is_little_giant=is_little_giant,
        is_listed=is_listed,
    )


def _valid_counts(n: int, ip: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Class-I and class-II rights granted and not lapsed at the window end, per firm."""
    valid = (ip["granted_on"] != MISSING_DAY) & (ip["lapsed_on"] == MISSING_DAY)
    class1 = np.bincount(ip["firm"][valid & np.isin(ip["ip_type"], CLASS1_TYPES)], minlength=n)
    class2 = np.bincount(ip["firm"][valid & np.isin(ip["ip_type"], CLASS2_TYPES)], minlength=n)
    return class1, class2


def _high_tech_certificates(
    pop: Population, accounts: Accounts, ip: dict[str, np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """Day of each firm's latest 高企 certificate (MISSING_DAY if never certified).

    One vectorised pass per calendar year: eligible firms due to apply (uncertified ones
    with APPLY_SHARE, certified ones when their certificate expires) are approved with odds
    rising in quality and health.
    """
    own = (ip["granted_on"] != MISSING_DAY) & ~ip["acquired"] & (ip["ip_type"] != "trademark")
    first_own_ip = np.full(pop.n, MISSING_DAY)
    np.minimum.at(first_own_ip, ip["firm"][own], ip["granted_on"][own])
    in_field = pop.industry != INDUSTRIES.index("other")
    staffed = pop.tech_staff_share >= HNTE_MIN_TECH_SHARE
    cert_year = np.full(pop.n, -1)
    cert_on = np.full(pop.n, MISSING_DAY)
    for year in range(FIRST_CERT_YEAR, int(years()[-1]) + 1):
        prev = min(max(year - 1 - years()[0], 0), len(years()) - 1)
        health = pop.health[:, min(max(year - years()[0], 0), len(years()) - 1)]
        revenue = accounts["revenue"][:, prev]
        with np.errstate(invalid="ignore", divide="ignore"):
            rd_ok = accounts["rd_expense"][:, prev] / revenue >= hnte_rd_threshold(revenue)
            ht_ok = (
                accounts["high_tech_revenue"][:, prev] / revenue >= HNTE_MIN_HIGH_TECH_REVENUE_SHARE
            )
        if year < years()[0] + 1:  # before the accounts start: judge by the firm's typical mix
            rd_ok = pop.rd_intensity >= 0.05
            ht_ok = pop.rd_intensity >= 0.03
        decision_day = year_start(year) + 300
        eligible = (
            in_field
            & staffed
            & rd_ok
            & ht_ok
            & (first_own_ip < decision_day)
            & (pop.founded + 365 < decision_day)
        )
        expiring = (cert_year >= 0) & (year - cert_year >= CERT_YEARS)
        new = (cert_year < 0) & (rng.random(pop.n) < APPLY_SHARE)
        applies = eligible & (expiring | new)
        approved = applies & (rng.random(pop.n) < sigmoid(0.8 + 0.8 * pop.quality + 0.5 * health))
        cert_year = np.where(approved, year, np.where(expiring & ~approved, -1, cert_year))
        days = uniform_between(rng, np.full(pop.n, decision_day), np.full(pop.n, decision_day + 60))
        cert_on = np.where(approved, np.minimum(days, window_end()), cert_on)
    return cert_on
