"""Equity rounds of venture-backed firms, in stage order with 12–30 month gaps.

A VC-backed firm raises its first round 0–4 years after founding (seed, angel or, for a
few, straight to A). Each further round succeeds with odds rising in the firm's health at
the time it falls due; a firm that fails to raise stops there, which is how the seed-000
financing gap (断点) arises: its months since the last round keep growing while it burns
cash. Some rounds are strategic (a corporate investor) rather than the next stage.
"""

from __future__ import annotations

import numpy as np

from features.schemas import ROUNDS
from synthetic import calibration as cal
from synthetic.dates import DAYS_PER_MONTH, DAYS_PER_YEAR, window_end
from synthetic.draws import lognormal, sigmoid
from synthetic.population import SCALE_MEAN, Population

#: Median round size in 万元 (chosen, Shanghai tech venture rounds).
MEDIAN_AMOUNT_WAN = {
    "seed": 300,
    "angel": 800,
    "A": 3_000,
    "B": 10_000,
    "C+": 30_000,
    "strategic": 5_000,
}
_SEED, _ANGEL, _A, _C, _STRATEGIC = (
    ROUNDS.index(r) for r in ("seed", "angel", "A", "C+", "strategic")
)
_MEDIANS = np.array([MEDIAN_AMOUNT_WAN[r] for r in ROUNDS], dtype=np.float64)
MAX_ROUNDS = 8
#: Stages after which a firm depends less on the next round (it may list or be acquired).
LATE_STAGES = ("C+", "strategic")
STRATEGIC_SHARE = 0.08
#: The funnel: after a round of each kind (ROUNDS order) the next one is this much less
#: likely than health alone says (later rounds are harder; after C+ a firm may list instead).
CONTINUE_AFTER = np.array([1.0, 1.0, 0.8, 0.6, 0.4, 1.0])


def round_rows(pop: Population, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """All rounds of VC-backed firms up to the window end (rows sorted by firm, then date)."""
    firm = np.nonzero(pop.vc_backed)[0]
    m = len(firm)
    when = pop.founded[firm] + np.round(rng.gamma(2.0, 0.7, m) * DAYS_PER_YEAR).astype(np.int64)
    stage = rng.choice([_SEED, _ANGEL, _A], size=m, p=[0.45, 0.40, 0.15])
    alive = np.ones(m, dtype=bool)
    out: dict[str, list[np.ndarray]] = {"firm": [], "closed_on": [], "round": []}
    for _ in range(MAX_ROUNDS):
        alive &= when <= window_end()
        if not alive.any():
            break
        strategic = rng.random(m) < STRATEGIC_SHARE
        raised = np.where(strategic, _STRATEGIC, stage)
        out["firm"].append(firm[alive])
        out["closed_on"].append(when[alive])
        out["round"].append(raised[alive])
        skip_angel = (stage == _SEED) & (rng.random(m) < 0.5)
        stage = np.where(strategic, stage, np.where(skip_angel, _A, np.minimum(stage + 1, _C)))
        gap = rng.uniform(*cal.ROUND_GAP_MONTHS, size=m) * DAYS_PER_MONTH
        when = when + np.round(gap).astype(np.int64)
        p_next = sigmoid(0.8 + 1.2 * pop.health_at(firm, np.minimum(when, window_end())))
        alive &= rng.random(m) < CONTINUE_AFTER[raised] * p_next
    rows = {k: np.concatenate(v) for k, v in out.items()}
    order = np.lexsort((rows["closed_on"], rows["firm"]))
    rows = {k: v[order] for k, v in rows.items()}
    k = len(rows["firm"])
    code = rows["round"]
    median = _MEDIANS[code] * np.exp(0.2 * (pop.scale[rows["firm"]] - SCALE_MEAN))
    rows["amount"] = np.round(lognormal(rng, median, 0.5, k), 2)
    tier_score = 0.8 * pop.quality[rows["firm"]] + 0.3 * code + rng.logistic(size=k)
    rows["lead_investor_tier"] = np.where(tier_score > 2.5, 1, np.where(tier_score > 0.5, 2, 3))
    rows["round"] = np.array(ROUNDS)[code]
    return rows
