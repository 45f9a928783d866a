"""Public support and technology-market records (DOMAIN.md, seeds 000, 002, 004).

Support a firm has won is vetting by someone else: every kind is commoner for healthier,
higher-quality, R&D-intensive firms, but the odds are modest, so a record is a hint, not a
guarantee. R&D tax relief (研发费用加计扣除) follows the annual tax filing of a year with R&D
expense; innovation vouchers go to small firms; 小巨人工程 funds go to little giants only,
from their designation; technology contracts are commonest in IT and services.
"""

from __future__ import annotations

import numpy as np

from synthetic.dates import last_fiscal_year, uniform_between, window_end, year_start, years
from synthetic.draws import expand, lognormal, sigmoid
from synthetic.financials import Accounts
from synthetic.population import INDUSTRIES, SCALE_MEAN, Population
from synthetic.qualifications import Qualifications

#: Median amount in 万元 of the kinds with a fixed-size award (chosen; seed 004: vouchers
#: average ≈ 6.7 万 per firm, the three funds ≈ 43 万 per firm).
MEDIAN_AMOUNT_WAN = {
    "innovation_voucher": 8.0,
    "innovation_fund": 40.0,
    "little_giant_fund": 150.0,
    "achievement_conversion": 30.0,
    "tech_contract": 35.0,
    "university_project": 40.0,
}
#: Share of R&D expense returned as tax: 75 % extra deduction at the 25 % rate.
TAX_RELIEF_SHARE = 0.75 * 0.25
TECH_MARKET_INDUSTRIES = ("electronic_info", "high_tech_services")


def support_rows(
    pop: Population, accounts: Accounts, quals: Qualifications, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """All support records, one row per award or deal (see the module docstring)."""
    n, n_years = pop.n, len(years())
    h = pop.health
    rd = ((pop.rd_z - pop.rd_z.mean()) / pop.rd_z.std())[:, None]
    q = pop.quality[:, None]
    size = (pop.scale - SCALE_MEAN)[:, None]
    active = accounts.active_share
    market = np.isin(pop.industry, [INDUSTRIES.index(i) for i in TECH_MARKET_INDUSTRIES])
    designated = (
        np.where(quals.is_little_giant, rng.integers(2018, 2024, size=n), 10_000)[:, None]
        <= years()[None, :]
    )
    rates = {
        "innovation_voucher": sigmoid(-2.6 + 0.4 * rd + 0.5 * h - 0.4 * size),
        "innovation_fund": sigmoid(-3.6 + 0.4 * rd + 0.6 * h + 0.3 * q),
        "little_giant_fund": np.where(designated, sigmoid(-1.5 + 0.5 * h), 0.0),
        "achievement_conversion": sigmoid(-3.4 + 0.4 * rd + 0.4 * h + 0.5 * q),
        "tech_contract": np.exp(-2.2 + 0.6 * q + 0.4 * h + 0.4 * market[:, None]),
        "university_project": sigmoid(-3.4 + 0.3 * h + 0.7 * q),
    }
    parts = []
    for kind, rate in rates.items():
        cell = expand(rng.poisson(rate * active).ravel())
        firm, col = np.divmod(cell, n_years)
        lo = np.maximum(year_start(years()[col]), pop.founded[firm] + 1)
        hi = np.minimum(year_start(years()[col] + 1) - 1, window_end())
        parts.append(
            {
                "firm": firm,
                "event_on": uniform_between(rng, lo, hi),
                "kind": np.full(len(firm), kind),
                "amount": lognormal(rng, MEDIAN_AMOUNT_WAN[kind], 0.6, len(firm)),
            }
        )
    parts.append(_tax_relief(pop, accounts, rng))
    rows = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
    rows["amount"] = np.round(rows["amount"], 2)
    return rows


def _tax_relief(
    pop: Population, accounts: Accounts, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """研发费用加计扣除 claimed with the annual filing (May–June of the next year)."""
    fiscal = years() <= last_fiscal_year()
    rd_expense = accounts["rd_expense"][:, fiscal]
    rd = ((pop.rd_z - pop.rd_z.mean()) / pop.rd_z.std())[:, None]
    claim = sigmoid(0.5 + 0.8 * rd + 0.3 * pop.health[:, fiscal])
    claimed = (np.nan_to_num(rd_expense) > 0) & (rng.random(rd_expense.shape) < claim)
    firm, col = np.nonzero(claimed)
    filing_year = years()[fiscal][col] + 1
    lo = year_start(filing_year) + 120  # 1 May
    return {
        "firm": firm,
        "event_on": uniform_between(rng, lo, lo + 60),
        "kind": np.full(len(firm), "tax_relief"),
        "amount": rd_expense[firm, col] * TAX_RELIEF_SHARE,
    }
