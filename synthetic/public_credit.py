"""Credit-report and public-credit records: loans, delinquencies, court and tax records, ratings.

Adverse events arrive as yearly Poisson counts whose rate rises as health falls (steeply for
overdues, dishonest-enforcement listings and arrears; barely for administrative penalties,
which are mostly noise). Exporters also miss more payments in 2020–2021 (seed 000: large
customers pay late). The severity of an overdue (days past due) also rises as health falls.
An overdue's ``event_on`` is the day its ``days_past_due`` was reported, so the row is known
from then. Tax ratings (纳税信用等级) read that year's health with noise; new firms are rated
M, and a year with tax arrears or a dishonest listing caps the rating at C or D.
"""

from __future__ import annotations

import numpy as np

from features.schemas import RATINGS  # A, B, M, C, D: worse to the right
from synthetic import calibration as cal
from synthetic.dates import (
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    last_fiscal_year,
    uniform_between,
    window_end,
    year_of,
    year_start,
    years,
)
from synthetic.draws import expand, lognormal, rank_uniform, sigmoid
from synthetic.financials import Accounts
from synthetic.population import SCALE_MEAN, Population

#: Yearly rate of each adverse kind: exp(base + slope * health) (chosen).
ADVERSE_RATES = {
    "overdue": (-2.9, -1.0),
    "court_judgment": (-4.4, -0.8),
    "enforcement_dishonest": (-6.0, -1.2),
    "tax_arrears": (-4.4, -0.9),
    "admin_penalty": (-3.8, -0.15),
    "utility_arrears": (-4.2, -0.6),
    "abnormal_operation": (-5.0, -0.8),
}
#: Extra log-rate of abnormal-operation listings in a firm's first two years (address and
#: filing problems of new firms).
YOUNG_ABNORMAL_SHIFT = 0.6
#: Bank loans per year of a mature firm at the median scale (chosen).
LOANS_PER_YEAR = 0.35
#: Extra log-rate of overdues for exporters (late-paying customers, seed 000).
EXPORT_OVERDUE_SHIFT = {2020: 0.6, 2021: 0.3}
#: Median amount of each kind relative to annual revenue at maturity (exp(scale)); None: no amount.
AMOUNT_SHARE = {
    "loan_opened": 0.2,
    "overdue": 0.08,
    "court_judgment": 0.08,
    "enforcement_dishonest": 0.05,
    "tax_arrears": 0.007,
}
FIXED_AMOUNT_WAN = {"admin_penalty": 2.0, "utility_arrears": 0.5}
LOAN_TERMS_MONTHS = (6, 12, 24, 36)
LOAN_TERM_SHARES = (0.15, 0.55, 0.20, 0.10)
#: Approximate shares of firm-years forced to C / D by arrears and listings, left out of the
#: ranked shares so that the totals land on calibration.TAX_RATING_SHARES.
FORCED_SHARE = {"C": 0.012, "D": 0.005}
_C, _D, _M = RATINGS.index("C"), RATINGS.index("D"), RATINGS.index("M")


def days_past_due(rng: np.random.Generator, health: np.ndarray) -> np.ndarray:
    """Severity of overdues: 90+ days with odds falling in health, else 30–89 or 1–29."""
    n = len(health)
    p90 = sigmoid(-1.6 - 0.9 * health)
    u = rng.random(n)
    severe = u < p90
    middle = ~severe & (u < p90 + 0.3 * (1 - p90))
    return np.where(
        severe,
        np.minimum(90 + np.round(rng.exponential(60.0, n)), 720),
        np.where(middle, rng.integers(30, 90, n), rng.integers(1, 30, n)),
    ).astype(np.float64)


def credit_event_rows(
    pop: Population, accounts: Accounts, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Base credit events (before any synthetic application) and per-firm-year adverse counts.

    Returns the rows and, for each adverse kind, the (n, years) count array the tax ratings
    read.
    """
    active = accounts.active_share
    age_mid = np.maximum(
        (year_start(years())[None, :] + 182 - pop.founded[:, None]) / DAYS_PER_YEAR, 0.0
    )
    counts: dict[str, np.ndarray] = {}
    for kind, (base, slope) in ADVERSE_RATES.items():
        log_rate = base + slope * pop.health
        if kind == "overdue":
            for year, shift in EXPORT_OVERDUE_SHIFT.items():
                log_rate[pop.exporter, year - years()[0]] += shift
            shocked = np.nonzero(pop.shock_year > 0)[0]
            for k, shift in enumerate(EXPORT_OVERDUE_SHIFT.values()):  # an extension's shock
                col = pop.shock_year[shocked] + k - years()[0]
                inside = col < log_rate.shape[1]
                log_rate[shocked[inside], col[inside]] += shift
        if kind == "abnormal_operation":
            log_rate += YOUNG_ABNORMAL_SHIFT * (age_mid < 2)
        counts[kind] = rng.poisson(np.exp(log_rate) * active)
    loan_rate = (
        LOANS_PER_YEAR
        * np.exp(0.35 * (pop.scale - SCALE_MEAN))[:, None]
        * (1 - np.exp(-age_mid / 3))
    )
    counts["loan_opened"] = rng.poisson(loan_rate * active)

    parts = [_expand_kind(pop, kind, c, rng) for kind, c in counts.items()]
    loans = parts[-1]
    term = rng.choice(LOAN_TERMS_MONTHS, size=len(loans["firm"]), p=LOAN_TERM_SHARES)
    repaid = loans["event_on"] + np.round(term * DAYS_PER_MONTH).astype(np.int64)
    keep = repaid <= window_end()
    parts.append(
        {
            "firm": loans["firm"][keep],
            "event_on": repaid[keep],
            "kind": np.full(keep.sum(), "loan_repaid"),
            "amount": loans["amount"][keep],
            "days_past_due": np.full(keep.sum(), np.nan),
        }
    )
    rows = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
    return rows, counts


def _expand_kind(
    pop: Population, kind: str, counts: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Rows of one kind from its (n, years) counts, dated uniformly within the active year."""
    cell = expand(counts.ravel())
    firm, col = np.divmod(cell, counts.shape[1])
    lo = np.maximum(year_start(years()[col]), pop.founded[firm] + 1)
    hi = np.minimum(year_start(years()[col] + 1) - 1, window_end())
    m = len(firm)
    if kind in AMOUNT_SHARE:
        amount = lognormal(rng, AMOUNT_SHARE[kind] * np.exp(pop.scale[firm]), 0.7, m)
    elif kind in FIXED_AMOUNT_WAN:
        amount = lognormal(rng, FIXED_AMOUNT_WAN[kind], 0.7, m)
    else:
        amount = np.full(m, np.nan)
    dpd = days_past_due(rng, pop.health[firm, col]) if kind == "overdue" else np.full(m, np.nan)
    return {
        "firm": firm,
        "event_on": uniform_between(rng, lo, hi),
        "kind": np.full(m, kind),
        "amount": np.round(amount, 2),
        "days_past_due": dpd,
    }


def tax_rating_grid(
    pop: Population,
    accounts: Accounts,
    adverse_counts: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> np.ndarray:
    """(n, fiscal years) rating codes into RATINGS; -1 where the firm did not exist.

    New firms are M (first year always, then less often); firms with hardly any revenue
    are often M too. Others are ranked on health plus noise into A/B/C/D with the shares of
    calibration.TAX_RATING_SHARES; tax arrears cap a year at C, a dishonest listing at D.
    """
    fiscal = years() <= last_fiscal_year()
    active = accounts.active_share[:, fiscal] > 0
    years_since_founding = years()[fiscal][None, :] - year_of(pop.founded)[:, None]
    p_new = np.select(
        [years_since_founding <= 0, years_since_founding == 1, years_since_founding == 2],
        [1.0, 0.8, 0.4],
        0.0,
    )
    tiny = np.nan_to_num(accounts["revenue"][:, fiscal]) < 200.0
    p_m = np.maximum(p_new, np.where(tiny, 0.6, 0.0))
    is_m = active & (rng.random(active.shape) < p_m)

    shares = cal.TAX_RATING_SHARES
    not_m = 1 - shares["M"]
    ranked_shares = [shares["D"] - FORCED_SHARE["D"], shares["C"] - FORCED_SHARE["C"], shares["B"]]
    cuts = np.cumsum(ranked_shares) / not_m  # D | C | B | A
    score = pop.health[:, fiscal] + 0.5 * rng.standard_normal(active.shape)
    ranked = active & ~is_m
    u = np.full(active.shape, np.nan)
    u[ranked] = rank_uniform(score[ranked])
    by_rank = np.array([RATINGS.index(r) for r in ("D", "C", "B", "A")])
    grid = np.full(active.shape, -1, dtype=np.int64)
    grid[ranked] = by_rank[np.searchsorted(cuts, u[ranked], side="right")]
    grid[is_m] = _M

    arrears = (adverse_counts["tax_arrears"][:, fiscal] > 0) & ranked
    grid = np.where(arrears & (rng.random(active.shape) < 0.7), np.maximum(grid, _C), grid)
    dishonest = (adverse_counts["enforcement_dishonest"][:, fiscal] > 0) & ranked
    return np.where(dishonest, _D, grid)
