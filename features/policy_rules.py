"""The published policy rules as numbers: 科技型中小企业 points and 高企 thresholds (DOMAIN.md).

科技型中小企业评价 (国科发政〔2017〕115号): staff, R&D and IP points and the size limits;
高新技术企业认定 (2016): the R&D intensity and staff thresholds. Each band starts at its lower
bound inclusive ("(含)"), as in the policy tables.

They are rules of the world the data describe, like the contract, not features: the policy
feature family scores firms by them and the synthetic market qualifies its firms by them, so
both read them here.

Note on the IP part: the official table gives class-II rights 4+ → 24, 3 → 18, 2 → 12,
1 → 6 points; DOMAIN.md's "2: 16; 1: 8" does not match the published text, and we follow
the published text.
"""

from __future__ import annotations

import numpy as np

# Robust to float noise at the bounds: 3/10 must count as 30 %.
BOUND_EPS = 1e-9

TSME_STAFF_BANDS = ((0.30, 20), (0.25, 16), (0.20, 12), (0.15, 8), (0.10, 4))
TSME_RD_REVENUE_BANDS = ((0.06, 50), (0.05, 40), (0.04, 30), (0.03, 20), (0.02, 10))
TSME_RD_COST_BANDS = ((0.30, 50), (0.25, 40), (0.20, 30), (0.15, 20), (0.10, 10))
TSME_CLASS2_POINTS = {0: 0, 1: 6, 2: 12, 3: 18}  # 4 or more: 24
TSME_PASS_POINTS = 60
TSME_MAX_EMPLOYEES = 500
TSME_MAX_REVENUE_WAN = 20_000  # 2 亿元
TSME_MAX_ASSETS_WAN = 20_000
HNTE_MIN_TECH_SHARE = 0.10
HNTE_MIN_HIGH_TECH_REVENUE_SHARE = 0.60
RD_BAND_EDGES = (0.01, 0.03, 0.05, 0.08)  # DOMAIN.md: 1 % fail, 3 % survive, 5 % compete, 8 % core


def banded_points(value: np.ndarray, bands: tuple[tuple[float, int], ...]) -> np.ndarray:
    """Points of the first band whose lower bound the value reaches; NaN stays NaN."""
    value = np.asarray(value, dtype=np.float64)
    points = np.zeros(value.shape)
    for bound, pts in reversed(bands):
        points = np.where(value + BOUND_EPS >= bound, pts, points)
    return np.where(np.isnan(value), np.nan, points)


def tsme_staff_points(tech_share: np.ndarray) -> np.ndarray:
    return banded_points(tech_share, TSME_STAFF_BANDS)


def tsme_rd_points(rd_to_revenue: np.ndarray, rd_to_cost: np.ndarray) -> np.ndarray:
    """The better of the two R&D measures (the firm chooses one); NaN only if both are."""
    return np.fmax(
        banded_points(rd_to_revenue, TSME_RD_REVENUE_BANDS),
        banded_points(rd_to_cost, TSME_RD_COST_BANDS),
    )


def tsme_ip_points(class1: np.ndarray, class2: np.ndarray) -> np.ndarray:
    class1 = np.asarray(class1, dtype=np.float64)
    class2 = np.asarray(class2, dtype=np.float64)
    points = np.select(
        [class2 >= 4, class2 == 3, class2 == 2, class2 == 1],
        [24, TSME_CLASS2_POINTS[3], TSME_CLASS2_POINTS[2], TSME_CLASS2_POINTS[1]],
        0,
    ).astype(np.float64)
    return np.where(class1 >= 1, 30.0, points)


def hnte_rd_threshold(revenue_wan: np.ndarray) -> np.ndarray:
    """3-year R&D intensity a 高企 needs: 5 % (≤ 5,000 万), 4 % (≤ 20,000 万), 3 % above."""
    revenue_wan = np.asarray(revenue_wan, dtype=np.float64)
    threshold = np.select([revenue_wan <= 5_000, revenue_wan <= 20_000], [0.05, 0.04], 0.03)
    return np.where(np.isnan(revenue_wan), np.nan, threshold)


def rd_band(rd_ratio: np.ndarray) -> np.ndarray:
    """1: < 1 %, 2: 1–3 %, 3: 3–5 %, 4: 5–8 %, 5: ≥ 8 % (lower bounds inclusive)."""
    rd_ratio = np.asarray(rd_ratio, dtype=np.float64)
    band = np.searchsorted(np.asarray(RD_BAND_EDGES), rd_ratio + BOUND_EPS, side="right") + 1.0
    return np.where(np.isnan(rd_ratio), np.nan, band)
