"""IP portfolios: patents, software copyrights, IC layouts and trademarks with their life cycle.

Filing rates grow with firm size and R&D propensity (inventions also with technology
quality; software copyrights in IT and services, utility models in manufacturing).
Trademarks and designs are filed independently of every trait except industry: pure noise.
Grants lag filings as at CNIPA (inventions 1.5–3.5 years and only ~55 % granted, better
firms more often; utility models 6–12 months, ~90 %; software copyrights 1–3 months).
Granted patents lapse for unpaid annual fees with a hazard that rises steeply as health
falls, the clearest IP distress signal.
Forward citations (within 3 years of grant) read technology quality.
"""

from __future__ import annotations

import numpy as np

from features.pit import MISSING_DAY
from features.schemas import IP_TYPES
from synthetic.dates import (
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    day,
    uniform_between,
    window_end,
    within_window,
    year_of,
    year_start,
    years,
)
from synthetic.draws import expand, sigmoid
from synthetic.population import INDUSTRIES, SCALE_MEAN, Population

PATENT_TYPES = ("invention", "utility_model", "design")
#: 科技型中小企业评价 class-I and class-II rights among the contract's types.
CLASS1_TYPES = ("invention", "ic_layout")
CLASS2_TYPES = ("utility_model", "design", "software_copyright")
#: Rights a lender accepts in an IP pledge (知识产权质押).
PLEDGEABLE_TYPES = ("invention", "utility_model")
#: Rights filed independently of size, R&D and health: pure noise for a risk model.
NOISE_TYPES = ("design", "trademark")
#: Filings per firm-year at the median scale and R&D propensity (chosen).
BASE_RATE = {
    "invention": 0.15,
    "utility_model": 0.22,
    "design": 0.04,
    "software_copyright": 0.22,
    "ic_layout": 0.005,
    "trademark": 0.10,
}
#: Industry multipliers of the filing rates (chosen); unlisted pairs are 1.
INDUSTRY_RATE = {
    "software_copyright": {"electronic_info": 2.5, "high_tech_services": 2.5},
    "design": {"advanced_manufacturing": 2.0, "new_materials": 1.5},
    "utility_model": {
        "advanced_manufacturing": 1.6,
        "new_materials": 1.5,
        "high_tech_services": 0.4,
    },
    "ic_layout": {"electronic_info": 5.0},
    "invention": {"bio_medicine": 1.5, "aerospace": 1.5, "new_materials": 1.3},
}
#: (grant probability, lag range in months) by type; invention grant odds rise with quality.
GRANT = {
    "invention": (None, (18, 42)),
    "utility_model": (0.9, (6, 12)),
    "design": (0.9, (4, 8)),
    "software_copyright": (1.0, (1, 3)),
    "ic_layout": (0.95, (3, 6)),
    "trademark": (0.85, (9, 14)),
}
#: IP records start at this date (older filings have expired or are out of scope).
FIRST_FILING = day("2008-01-01")
#: Yearly lapse hazard for unpaid fees: sigmoid(LAPSE_BASE - LAPSE_HEALTH * health).
LAPSE_BASE = -4.3
LAPSE_HEALTH = 1.3
#: Share of granted patents pledged to other lenders (the applications add their own).
BACKGROUND_PLEDGE_SHARE = 0.015


def ip_rows(pop: Population, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One row per IP right (see the module docstring)."""
    start = np.maximum(pop.founded, FIRST_FILING)
    span_years = np.maximum(window_end() - start, 0) / DAYS_PER_YEAR
    size = np.exp(0.45 * (pop.scale - SCALE_MEAN))
    rd = np.exp(0.5 * (pop.rd_z - pop.rd_z.mean()) / pop.rd_z.std())
    firm_noise = np.exp(0.6 * rng.standard_normal(pop.n))
    industry = np.array(INDUSTRIES)[pop.industry]
    firms, types = [], []
    for code, ip_type in enumerate(IP_TYPES):
        rate = BASE_RATE[ip_type] * firm_noise
        if ip_type not in NOISE_TYPES:
            rate = rate * size * rd
        if ip_type == "invention":
            rate = rate * np.exp(0.3 * pop.quality)
        for name, mult in INDUSTRY_RATE.get(ip_type, {}).items():
            rate = np.where(industry == name, rate * mult, rate)
        counts = rng.poisson(rate * span_years)
        firms.append(expand(counts))
        types.append(np.full(counts.sum(), code))
    firm = np.concatenate(firms)
    ip_type = np.concatenate(types)
    n = len(firm)
    filed = uniform_between(rng, start[firm], np.full(n, window_end()))

    granted = np.full(n, MISSING_DAY)
    for code, name in enumerate(IP_TYPES):
        rows = ip_type == code
        p, (lo, hi) = GRANT[name]
        prob = sigmoid(-0.15 + 0.6 * pop.quality[firm[rows]]) if p is None else p
        ok = rng.random(rows.sum()) < prob
        lag = np.round(rng.uniform(lo, hi, size=rows.sum()) * DAYS_PER_MONTH).astype(np.int64)
        granted[rows] = np.where(ok, within_window(filed[rows] + lag), MISSING_DAY)

    is_patent = np.isin(ip_type, [IP_TYPES.index(t) for t in PATENT_TYPES])
    lapsed = _lapses(pop, firm, granted, is_patent, rng)
    is_granted = granted != MISSING_DAY
    quality = pop.quality[firm]
    invention = ip_type == IP_TYPES.index("invention")
    utility = ip_type == IP_TYPES.index("utility_model")
    claims = np.where(
        invention,
        1 + rng.poisson(np.exp(2.0 + 0.15 * quality)),
        np.where(utility, 1 + rng.poisson(4.0, size=n), 1),
    ).astype(np.float64)
    claims[~is_patent] = np.nan
    citation_mean = np.where(
        invention,
        np.exp(-0.3 + 0.6 * quality + 0.4 * rng.standard_normal(n)),
        np.where(utility, np.exp(-1.4 + 0.4 * quality), 0.05),
    )
    citations = rng.poisson(citation_mean).astype(np.float64)
    citations[~(is_patent & is_granted)] = np.nan
    acquired = (invention | utility) & (rng.random(n) < np.where(quality < -0.5, 0.14, 0.06))

    pledgeable = is_granted & np.isin(ip_type, [IP_TYPES.index(t) for t in PLEDGEABLE_TYPES])
    pledgeable &= rng.random(n) < BACKGROUND_PLEDGE_SHARE
    pledge_end = np.where(lapsed == MISSING_DAY, window_end(), lapsed - 1)
    pledged = np.where(
        pledgeable & (pledge_end > granted),
        uniform_between(rng, np.where(is_granted, granted, 0), pledge_end),
        MISSING_DAY,
    )
    return {
        "firm": firm,
        "ip_type": np.array(IP_TYPES)[ip_type],
        "filed_on": filed,
        "granted_on": granted,
        "lapsed_on": lapsed,
        "claims": claims,
        "forward_citations": citations,
        "acquired": acquired,
        "pledged_on": pledged,
    }


def _lapses(
    pop: Population,
    firm: np.ndarray,
    granted: np.ndarray,
    is_patent: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Lapse day of granted patents: a yearly hazard driven by that year's health."""
    lapsed = np.full(len(firm), MISSING_DAY)
    at_risk = is_patent & (granted != MISSING_DAY)
    first_year = int(year_of(np.array(FIRST_FILING)))
    for year in range(first_year, int(years()[-1]) + 1):
        col = min(max(year - years()[0], 0), len(years()) - 1)
        y_start, y_end = int(year_start(year)), int(year_start(year + 1)) - 1
        live = np.nonzero(at_risk & (lapsed == MISSING_DAY) & (granted < y_end))[0]
        hazard = sigmoid(LAPSE_BASE - LAPSE_HEALTH * pop.health[firm[live], col])
        hit = live[rng.random(len(live)) < hazard]
        lo = np.maximum(granted[hit] + 1, y_start)
        lapsed[hit] = uniform_between(rng, lo, np.full(len(hit), y_end))
    return lapsed
