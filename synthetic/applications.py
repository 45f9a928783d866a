"""Loan applications to 投贷联动 (tdld) and 信易贷 (xyd), 2018–2024.

About one application per firm over the window: a firm's count is Poisson with a rate
proportional to its time in the window and a propensity that is higher for larger,
VC-backed and older firms; weaker VC-backed firms apply more (they need the money) and
healthier other firms apply more (信易贷 platforms match them with lenders).
投贷联动 pairs the loan with an equity investment, so it is open to firms with an equity
round before the application (or, for a few, one closing alongside it within 90 days), and
young firms take it far more often; every other application is 信易贷, whose applicants
are therefore older with longer public-credit files.
"""

from __future__ import annotations

import numpy as np

from features.pit import MISSING_DAY, EventStream, Queries
from features.schemas import GUARANTEES
from synthetic import calibration as cal
from synthetic.dates import (
    APPLICATIONS_FROM,
    DAYS_PER_YEAR,
    uniform_between,
    window_end,
    within_window,
)
from synthetic.draws import expand, lognormal, position_in_group
from synthetic.ip import PLEDGEABLE_TYPES
from synthetic.population import SCALE_MEAN, Population

#: Selection on health: venture-backed firms apply when they need money (weaker ones more),
#: while 信易贷 platforms push offers to firms with good public-credit records (seed 002:
#: "credit empowerment"), so other applicants are slightly healthier than their peers.
NEED_SELECTION = 0.4
PLATFORM_SELECTION = 0.25
#: A firm applies at the earliest this long after founding (a bank needs some history).
MIN_AGE_DAYS = 180
MAX_APPLICATIONS_PER_FIRM = 8
#: An equity round closing within this many days after the application counts as the
#: equity leg of a 投贷联动 deal.
EQUITY_LEG_DAYS = 90
#: P(tdld) for a firm with a prior round, by age at application (years: < 4, 4–7, 7–10,
#: ≥ 10), × FLUSH_FACTOR within RECENT_ROUND_DAYS of a round (the firm is flush with equity
#: money); and for a firm whose round closes alongside the application.
TDLD_AGE_EDGES = (4.0, 7.0, 10.0)
TDLD_SHARE_BY_AGE = (0.9, 0.75, 0.4, 0.15)
RECENT_ROUND_DAYS = 180
FLUSH_FACTOR = 0.7
TDLD_SHARE_ALONGSIDE = 0.5
TERMS_MONTHS = {
    "tdld": ((12, 24, 36), (0.3, 0.4, 0.3)),
    "xyd": ((6, 12, 24, 36), (0.1, 0.6, 0.2, 0.1)),
}
#: Guarantee shares by product (chosen; seed 002: the policy guarantee fund; IP pledges).
GUARANTEE_SHARES = {"tdld": (0.55, 0.25, 0.20), "xyd": (0.50, 0.35, 0.15)}
PATENTS_PER_PLEDGE = 2


def draw_applications(
    pop: Population, rounds: dict[str, np.ndarray], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Applications sorted by firm, then date, with their rank within the firm."""
    start = np.maximum(APPLICATIONS_FROM, pop.founded + MIN_AGE_DAYS)
    years_open = np.maximum(window_end() - start, 0) / DAYS_PER_YEAR
    age_end = (window_end() - pop.founded) / DAYS_PER_YEAR
    health = pop.health[:, 2:].mean(axis=1)
    propensity = np.exp(
        0.15 * (pop.scale - SCALE_MEAN)
        + np.where(
            pop.vc_backed,
            0.9 - NEED_SELECTION * health,
            0.8 * np.clip(age_end / 10, 0, 1) + PLATFORM_SELECTION * health,
        )
    )
    rate = years_open * propensity
    rate *= pop.n * cal.APPLICATIONS_PER_FIRM / rate.sum()
    counts = np.minimum(rng.poisson(rate), MAX_APPLICATIONS_PER_FIRM)
    firm = expand(counts)
    applied_on = uniform_between(rng, start[firm], np.full(len(firm), window_end()))
    order = np.lexsort((applied_on, firm))
    firm, applied_on = firm[order], applied_on[order]
    m = len(firm)

    stream = EventStream(rounds["firm"], rounds["closed_on"])
    q = Queries(firm, applied_on)
    before = stream.count(q) > 0
    alongside = ~before & (stream.count(Queries(firm, applied_on + EQUITY_LEG_DAYS + 1)) > 0)
    age = (applied_on - pop.founded[firm]) / DAYS_PER_YEAR
    by_age = np.array(TDLD_SHARE_BY_AGE)[np.searchsorted(TDLD_AGE_EDGES, age, side="right")]
    flush = stream.days_since_last(q) < RECENT_ROUND_DAYS
    p_tdld = np.where(
        before,
        np.where(flush, FLUSH_FACTOR, 1.0) * by_age,
        np.where(alongside, TDLD_SHARE_ALONGSIDE, 0.0),
    )
    tdld = rng.random(m) < p_tdld

    revenue = np.exp(pop.scale[firm])
    median = np.where(tdld, np.clip(0.15 * revenue, 300, 5_000), np.clip(0.1 * revenue, 50, 1_000))
    amount = np.maximum(np.round(lognormal(rng, median, 0.4, m) / 10) * 10, 10)
    term = np.empty(m, dtype=np.int64)
    for product, (terms, shares) in TERMS_MONTHS.items():
        rows = tdld == (product == "tdld")
        term[rows] = rng.choice(terms, size=rows.sum(), p=shares)
    loan_number = np.empty(m, dtype=np.int64)
    loan_number[np.lexsort((firm, applied_on))] = np.arange(m)
    return {
        "loan_id": np.char.add("LN", np.char.zfill(loan_number.astype(str), 8)),
        "firm": firm,
        "rank": position_in_group(counts),
        "product": np.where(tdld, "tdld", "xyd"),
        "applied_on": applied_on,
        "amount": amount,
        "term_months": term,
    }


def assign_guarantees(
    product: np.ndarray, pledgeable_patents: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """none / fund / ip_pledge by product; an IP pledge needs a valid patent (else fund)."""
    u = rng.random(len(product))
    guarantee = np.empty(len(product), dtype=object)
    for name, shares in GUARANTEE_SHARES.items():
        rows = product == name
        cut = np.cumsum(shares)
        guarantee[rows] = np.array(GUARANTEES)[np.searchsorted(cut, u[rows], side="right")]
    no_patent = (guarantee == "ip_pledge") & (pledgeable_patents < 1)
    guarantee[no_patent] = "fund"
    return guarantee.astype(str)


def pledge_patents(
    ip: dict[str, np.ndarray],
    apps: dict[str, np.ndarray],
    guarantee: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """``pledged_on`` with the pledges of ip_pledge applications added.

    Each such application pledges up to PATENTS_PER_PLEDGE of the firm's valid invention and
    utility-model patents, registered 7–45 days after the application (after approval, so
    the pledge is not yet on file as of the application date). A patent keeps its latest
    pledge.
    """
    sel = np.nonzero(guarantee == "ip_pledge")[0]
    order = np.argsort(ip["firm"], kind="stable")
    ip_firm = ip["firm"][order]
    lo = np.searchsorted(ip_firm, apps["firm"][sel], side="left")
    hi = np.searchsorted(ip_firm, apps["firm"][sel], side="right")
    pair_app = expand(hi - lo)
    row = order[lo[pair_app] + position_in_group(hi - lo)]
    when = apps["applied_on"][sel][pair_app]
    valid = (
        np.isin(ip["ip_type"][row], PLEDGEABLE_TYPES)
        & (ip["granted_on"][row] < when)
        & (ip["lapsed_on"][row] > when)
    )
    pair_app, row, when = pair_app[valid], row[valid], when[valid]
    shuffle = np.lexsort((rng.random(len(row)), pair_app))
    pair_app, row, when = pair_app[shuffle], row[shuffle], when[shuffle]
    first = position_in_group(np.bincount(pair_app, minlength=len(sel))) < PATENTS_PER_PLEDGE
    rows = row[first]
    registered = within_window(when[first] + rng.integers(7, 46, size=len(rows)))
    keep = registered != MISSING_DAY
    latest = np.where(ip["pledged_on"] == MISSING_DAY, -1, ip["pledged_on"])
    np.maximum.at(latest, rows[keep], registered[keep])
    return np.where(latest >= 0, latest, MISSING_DAY)
