"""Annual accounts: revenue, R&D, profit, balance sheet and cash flow per firm-year.

Accounts are drawn for every firm and year (``Accounts``, also read by the support records
and the qualifications); the ``financials`` table holds the fiscal years the firm filed.
How latent traits show:

- revenue grows with age (a ramp), moves with health (±30 % per unit) and, for exporters,
  drops in 2020 (to 50–85 %) and partly in 2021 (seed 000);
- R&D spending follows the firm's typical intensity of *unshocked* revenue (salaries are
  sticky), so the intensity jumps in a bad year;
- profit margin rises with health, falls with R&D above 8 % and is lower for venture-backed
  firms, which spend equity money on growth; operating cash flow follows
  the margin and loses 12 % (2020) / 6 % (2021) of revenue to longer receivables for exporters;
- debt/assets centres on the seed-003 ratio of the firm's size class and rises as health falls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthetic import calibration as cal
from synthetic.dates import DAYS_PER_YEAR, last_fiscal_year, year_start, years
from synthetic.population import Population

#: Exporters' revenue factor ranges and receivables drag (share of revenue) by year (seed 000).
EXPORT_REVENUE_FACTOR = {2020: (0.50, 0.85), 2021: (0.75, 1.0)}
EXPORT_RECEIVABLES_DRAG = {2020: 0.12, 2021: 0.06}
#: Effect of one unit of health on log revenue, margin and leverage.
HEALTH_ON_REVENUE = 0.30
HEALTH_ON_MARGIN = 0.05
HEALTH_ON_LEVERAGE = 0.08
#: Margin a venture-backed firm gives up to growth spending (it burns equity money).
VC_BURN = 0.12
#: Share of a patchy filer's years that are missing.
PATCHY_MISSING_SHARE = 0.35

COLUMNS = (
    "revenue",
    "rd_expense",
    "high_tech_revenue",
    "cost_total",
    "net_profit",
    "total_assets",
    "total_liabilities",
    "current_assets",
    "current_liabilities",
    "operating_cash_flow",
)


@dataclass(frozen=True)
class Accounts:
    """(n, len(years())) arrays of each firm's yearly accounts; NaN before founding."""

    active_share: np.ndarray  # share of the year the firm existed (0 before founding)
    values: dict[str, np.ndarray]  # COLUMNS -> (n, years)

    def __getitem__(self, column: str) -> np.ndarray:
        return self.values[column]


def size_class(annual_revenue: np.ndarray) -> np.ndarray:
    """0 micro, 1 small, 2 medium, 3 large by annual revenue (calibration.SIZE_CLASS_EDGES_WAN)."""
    return np.searchsorted(np.array(cal.SIZE_CLASS_EDGES_WAN), annual_revenue, side="right")


def draw_accounts(pop: Population, rng: np.random.Generator) -> Accounts:
    """Every firm's accounts for every year in years() (see the module docstring)."""
    n, n_years = pop.n, len(years())
    starts = year_start(years())
    ends = year_start(years() + 1)
    first_day = np.maximum(starts[None, :], pop.founded[:, None])
    active = np.clip((ends[None, :] - first_day) / (ends - starts)[None, :], 0.0, 1.0)
    age_mid = np.maximum((starts[None, :] + 182 - pop.founded[:, None]) / DAYS_PER_YEAR, 0.05)
    ramp = 1 - np.exp(-(age_mid + 0.3) / 2.5)
    h = pop.health

    annual = np.exp(
        pop.scale[:, None]
        + np.log(ramp)
        + HEALTH_ON_REVENUE * h
        + 0.10 * rng.standard_normal((n, n_years))
    )
    shock = np.ones((n, n_years))
    drag = np.zeros((n, n_years))
    for year, (lo, hi) in EXPORT_REVENUE_FACTOR.items():
        col = year - years()[0]
        shock[pop.exporter, col] = rng.uniform(lo, hi, size=pop.exporter.sum())
        drag[pop.exporter, col] = EXPORT_RECEIVABLES_DRAG[year]
    revenue = annual * shock * active
    rd_expense = pop.rd_intensity[:, None] * np.exp(0.15 * rng.standard_normal((n, n_years)))
    rd_expense = rd_expense * annual * active
    with np.errstate(invalid="ignore", divide="ignore"):
        rd_ratio = np.where(revenue > 0, rd_expense / revenue, 0.0)
    margin = (
        0.03
        + HEALTH_ON_MARGIN * h
        - 0.6 * np.maximum(rd_ratio - 0.08, 0.0)
        - VC_BURN * pop.vc_backed[:, None]
        - 0.5 * drag
        + 0.04 * rng.standard_normal((n, n_years))
    )
    net_profit = margin * revenue
    cost_total = np.maximum(revenue - net_profit, rd_expense)
    net_profit = revenue - cost_total
    high_tech_share = np.where(
        pop.rd_intensity >= 0.03, rng.beta(6.0, 2.0, size=n), rng.beta(2.0, 3.0, size=n)
    )
    high_tech_revenue = revenue * np.clip(
        high_tech_share[:, None] + 0.05 * rng.standard_normal((n, n_years)), 0.0, 1.0
    )

    cash_buffer = np.where(pop.vc_backed, 1.3, 1.0)
    total_assets = (
        annual
        * (pop.asset_turnover * cash_buffer)[:, None]
        * np.exp(0.08 * rng.standard_normal((n, n_years)))
    )
    leverage = _leverage(annual, h, rng)
    total_liabilities = leverage * total_assets
    current_share = rng.uniform(0.45, 0.85, size=n)[:, None]
    current_assets = total_assets * np.clip(
        current_share + 0.05 * rng.standard_normal((n, n_years)), 0.05, 1.0
    )
    current_liabilities = total_liabilities * np.clip(
        0.75 - 0.05 * h + 0.08 * rng.standard_normal((n, n_years)), 0.3, 1.0
    )
    operating_cash_flow = revenue * (
        margin + 0.02 - drag + 0.06 * rng.standard_normal((n, n_years))
    )

    values = {
        "revenue": revenue,
        "rd_expense": rd_expense,
        "high_tech_revenue": high_tech_revenue,
        "cost_total": cost_total,
        "net_profit": net_profit,
        "total_assets": total_assets,
        "total_liabilities": total_liabilities,
        "current_assets": current_assets,
        "current_liabilities": current_liabilities,
        "operating_cash_flow": operating_cash_flow,
    }
    before_founding = active <= 0
    for v in values.values():
        v[before_founding] = np.nan
    return Accounts(active_share=active, values=values)


def _leverage(annual_revenue: np.ndarray, h: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Debt/assets: the size class's seed-003 ratio, minus health (centred within the class)."""
    size = size_class(annual_revenue)
    base = np.array(list(cal.LEVERAGE_BY_SIZE.values()))[size]
    h_centred = h.copy()
    for k in range(len(cal.LEVERAGE_BY_SIZE)):
        in_class = size == k
        if in_class.any():
            h_centred[in_class] -= h[in_class].mean()
    firm_effect = 0.08 * rng.standard_normal(len(h))[:, None]
    noise = 0.04 * rng.standard_normal(h.shape)
    return np.clip(base - HEALTH_ON_LEVERAGE * h_centred + firm_effect + noise, 0.05, 1.6)


def financials_rows(
    pop: Population, accounts: Accounts, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Filed fiscal years FIRST_RECORD_YEAR … LAST_FISCAL_YEAR: one row per firm-year.

    Thin-file firms file nothing; patchy filers miss some years.
    """
    fiscal = years() <= last_fiscal_year()
    n_fy = int(fiscal.sum())
    filed = accounts.active_share[:, fiscal] > 0
    filed &= ~pop.thin_financials[:, None]
    filed &= ~(pop.patchy_financials[:, None] & (rng.random((pop.n, n_fy)) < PATCHY_MISSING_SHARE))
    firm, col = np.nonzero(filed)
    rows: dict[str, np.ndarray] = {"firm": firm, "fiscal_year": years()[fiscal][col]}
    for name in COLUMNS:
        rows[name] = np.round(accounts[name][:, fiscal][firm, col], 2)
    return rows
