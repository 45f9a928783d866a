"""Labels: draw each application's default from its true PD and write what follows.

Applications are labelled in order of their rank within the firm (all first applications,
then all second ones, …) so that a firm's later application sees the consequences of an
earlier default: an overdue that reached 90+ days past due within the 12 months, often a
court judgment, sometimes a dishonest-enforcement listing, and often a tax rating cut to C
for that year (a new firm's M stays). Every booked loan also appears in the credit report
(opened, and repaid at term when it did not default). Records dated after the window end
are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.pit import MISSING_DAY
from features.schemas import RATINGS
from synthetic.dates import DAYS_PER_MONTH, uniform_between, within_window, year_of, years
from synthetic.truth import AsOfRecords, true_pd

COURT_SHARE = 0.4
DISHONEST_SHARE = 0.15
TAX_DOWNGRADE_SHARE = 0.6
_C, _M = RATINGS.index("C"), RATINGS.index("M")


@dataclass(frozen=True)
class Outcomes:
    """What labelling produced: one PD and label per application, and the updated records."""

    true_pd: np.ndarray
    default_12m: np.ndarray
    credit_events: dict[str, np.ndarray]  # base events plus the applications' loans and defaults
    tax_grid: np.ndarray  # ratings after the defaults' downgrades


def label_applications(
    apps: dict[str, np.ndarray],
    records: AsOfRecords,
    credit_events: dict[str, np.ndarray],
    tax_grid: np.ndarray,
    rng: np.random.Generator,
) -> Outcomes:
    """True PD and default of every application, rank by rank (see the module docstring)."""
    m = len(apps["firm"])
    pd_true = np.empty(m)
    default = np.zeros(m, dtype=bool)
    tax_grid = tax_grid.copy()
    parts = [credit_events, _loan_events(apps, np.arange(m), "loan_opened", rng)]
    for rank in range(int(apps["rank"].max(initial=-1)) + 1):
        idx = np.nonzero(apps["rank"] == rank)[0]
        if rank > 0:  # what earlier ranks' defaults wrote
            records.set_credit_events(_concat(parts))
            records.set_tax_ratings(*tax_rows(tax_grid))
        pd_true[idx] = true_pd(
            records.read(apps["firm"][idx], apps["applied_on"][idx], apps["amount"][idx])
        )
        default[idx] = rng.random(len(idx)) < pd_true[idx]
        bad = idx[default[idx]]
        parts.append(_loan_events(apps, idx[~default[idx]], "loan_repaid", rng))
        consequences, overdue_start = _default_events(apps, bad, rng)
        parts.append(consequences)
        year_col = year_of(overdue_start) - years()[0]
        in_grid = year_col < tax_grid.shape[1]
        firm = apps["firm"][bad][in_grid]
        col = year_col[in_grid]
        rated = (tax_grid[firm, col] >= 0) & (tax_grid[firm, col] != _M)  # M: a new firm
        cut = rated & (rng.random(len(firm)) < TAX_DOWNGRADE_SHARE)
        tax_grid[firm[cut], col[cut]] = np.maximum(tax_grid[firm[cut], col[cut]], _C)
    events = _concat(parts)
    return Outcomes(pd_true, default, events, tax_grid)


def tax_rows(tax_grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(firm, year, rating code) of every rated firm-year of a rating grid."""
    firm, col = np.nonzero(tax_grid >= 0)
    return firm, years()[col], tax_grid[firm, col]


def _loan_events(
    apps: dict[str, np.ndarray], idx: np.ndarray, kind: str, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """The booked loan of each application: opened 3–30 days after, or repaid at term."""
    applied = apps["applied_on"][idx]
    if kind == "loan_opened":
        when = uniform_between(rng, applied + 3, applied + 30)
    else:
        when = applied + np.round(apps["term_months"][idx] * DAYS_PER_MONTH).astype(np.int64)
    return _events(apps["firm"][idx], when, kind, apps["amount"][idx].astype(np.float64))


def _default_events(
    apps: dict[str, np.ndarray], bad: np.ndarray, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Overdue (90–180 days past due, reported when reached), court judgment, listing."""
    k = len(bad)
    firm = apps["firm"][bad]
    amount = apps["amount"][bad].astype(np.float64)
    start = apps["applied_on"][bad] + rng.integers(30, 276, size=k)  # 90 dpd within 12 months
    dpd = rng.integers(90, 181, size=k)
    reported = start + dpd
    court = rng.random(k) < COURT_SHARE
    court_on = reported + rng.integers(60, 361, size=k)
    listed = court & (rng.random(k) < DISHONEST_SHARE / COURT_SHARE)
    listed_on = court_on + rng.integers(60, 361, size=k)
    overdue = _events(firm, reported, "overdue", amount, dpd.astype(np.float64))
    judgments = _events(firm[court], court_on[court], "court_judgment", amount[court])
    listings = _events(firm[listed], listed_on[listed], "enforcement_dishonest", amount[listed])
    return _concat([overdue, judgments, listings]), start


def _events(
    firm: np.ndarray,
    when: np.ndarray,
    kind: str,
    amount: np.ndarray,
    dpd: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    return {
        "firm": firm,
        "event_on": within_window(when),
        "kind": np.full(len(firm), kind),
        "amount": np.round(amount, 2),
        "days_past_due": np.full(len(firm), np.nan) if dpd is None else dpd,
    }


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    rows = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
    keep = rows["event_on"] != MISSING_DAY
    return {c: v[keep] for c, v in rows.items()}
