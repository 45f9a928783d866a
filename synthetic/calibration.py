"""Target statistics of the synthetic market, each with its source.

The generator draws from these numbers and ``tests/features/test_synthetic.py`` checks the
generated tables against the same constants, so a target is changed in one place only.
Seeds are the Chinese documents in ``/work/shared/seeds`` summarised in ``DOMAIN.md``; where
a seed gives no number the value is a documented choice ("chosen").
"""

from __future__ import annotations

from types import MappingProxyType

# -- the observation window -------------------------------------------------------------------
#: Applications are dated within [APPLICATIONS_FROM, WINDOW_END] (ISO dates).
APPLICATIONS_FROM = "2018-01-01"
WINDOW_END = "2024-12-31"
#: Annual records (financials, tax ratings) start here; FY2024 would be filed after the window.
FIRST_RECORD_YEAR = 2016
LAST_FISCAL_YEAR = 2023
#: Monthly staffing records start in January of this year.
FIRST_STAFFING_YEAR = 2017
#: Latent health is drawn for each year of FIRST_RECORD_YEAR … 2024.
LAST_YEAR = 2024

# -- population -------------------------------------------------------------------------------
#: Industry mix of Shanghai high-tech firms (seed 001: 电子信息 ≈ 1/3, 先进制造与自动化 ≈ 1/4,
#: 高技术服务 ≈ 1/5, 生物与新医药 ≈ 6 %, 新材料 ≈ 6 %, 资源与环境 ≈ 4 %, 新能源与节能 ≈ 3 %,
#: 航空航天 ≈ 0.5 %); ``other`` takes the remainder.
INDUSTRY_SHARES: MappingProxyType[str, float] = MappingProxyType(
    {
        "electronic_info": 1 / 3,
        "advanced_manufacturing": 0.25,
        "high_tech_services": 0.20,
        "bio_medicine": 0.06,
        "new_materials": 0.06,
        "resources_environment": 0.04,
        "new_energy": 0.03,
        "aerospace": 0.005,
        "other": 1 - (1 / 3 + 0.25 + 0.20 + 0.06 + 0.06 + 0.04 + 0.03 + 0.005),
    }
)

#: Revenue bands of high-tech firms in 万元 (seed 001: > 2 亿 ≈ 5 %, 5000 万–2 亿 ≈ 18 %,
#: 2000–5000 万 ≈ 20 %, < 2000 万 > 50 %). Edges are lower bounds of the upper bands; the
#: shares apply to FY LAST_FISCAL_YEAR revenue of firms with a full year of trading.
REVENUE_BAND_EDGES_WAN = (2_000.0, 5_000.0, 20_000.0)
REVENUE_BAND_SHARES = (0.57, 0.20, 0.18, 0.05)

#: R&D expense / revenue bands (seed 003: 1 % bound to fail, 3 % barely survives, 5 % can
#: compete, ≥ 8 % core competitiveness). Shares are chosen: most certified high-tech firms
#: report ≥ 5 % (the 高企 threshold for revenue ≤ 50 m), and surveyed Shanghai tech SMEs
#: spend far more (seed 000: profitable ones ≈ 50 % of revenue), so the ≥ 8 % band is wide.
#: Measured like the revenue bands.
RD_BAND_EDGES = (0.01, 0.03, 0.05, 0.08)
RD_BAND_SHARES = (0.07, 0.15, 0.23, 0.25, 0.30)
#: Share of firms whose typical R&D intensity exceeds CASH_BURN_RD_RATIO (chosen): the
#: extreme spenders whose risk depends on fresh equity money.
CASH_BURN_RD_RATIO = 0.20
CASH_BURN_SHARE = 0.06

#: Debt / assets by size class (seed 003, Shandong 2013: micro 60.7 %, small 44.24 %,
#: medium 58.8 %, large 58.67 %). Size classes by annual revenue in 万元, after the
#: industrial thresholds of 工信部联企业〔2011〕300号 (micro < 300, small < 2,000,
#: medium < 40,000).
SIZE_CLASS_EDGES_WAN = (300.0, 2_000.0, 40_000.0)
LEVERAGE_BY_SIZE: MappingProxyType[str, float] = MappingProxyType(
    {"micro": 0.607, "small": 0.4424, "medium": 0.588, "large": 0.5867}
)

#: Staff structure. R&D staff share: seed 000 reports ≈ 50 % (max 70 %) among surveyed tech
#: SMEs, seed 001 ≈ 10 % across all high-tech firms; the population mean is chosen between.
RD_STAFF_SHARE_MEAN = 0.25
#: Seed 003: a tech micro firm has ≥ 30 % college-educated staff; most of ours do.
COLLEGE_SHARE_FLOOR = 0.30
COLLEGE_ABOVE_FLOOR_SHARE = 0.88

#: 纳税信用等级 shares over all firm-years (chosen: A and B dominate; M is the rating of new
#: firms and firms without a full year of business; C and D are rare and go to weak firms).
TAX_RATING_SHARES: MappingProxyType[str, float] = MappingProxyType(
    {"A": 0.25, "B": 0.40, "M": 0.25, "C": 0.07, "D": 0.03}
)

#: Share of firms with venture backing (chosen: Shanghai tech SMEs, mostly not VC-backed).
VC_BACKED_SHARE = 0.27
#: Months between consecutive rounds (chosen; the seed-000 断点 is a gap of 3–5 months past
#: the expected next round).
ROUND_GAP_MONTHS = (12, 30)
#: A round is "expected" this many months after the previous one; beyond it plus the
#: 3–5 month 断点 a VC-backed firm runs short of cash (seed 000).
EXPECTED_ROUND_GAP_MONTHS = 18
FINANCING_GAP_MONTHS = 4

#: Share of firms with no financial statements / no staffing records at all (thin files).
THIN_FINANCIALS_SHARE = 0.08
THIN_STAFFING_SHARE = 0.06

#: Share of electronic-info and advanced-manufacturing firms that export (chosen), the ones
#: hit in 2020 (seed 000: orders shrank, receivables lengthened, some lost half their revenue).
EXPORTER_SHARE = 0.35

# -- applications and defaults ----------------------------------------------------------------
#: About one application per firm over the window (some several, many none).
APPLICATIONS_PER_FIRM = 1.0
#: Default rates are not in the seeds; DOMAIN.md asks for 2–8 % over 12 months.
DEFAULT_RATE_RANGE = (0.02, 0.08)
DEFAULT_RATE_TARGET = 0.045
#: The oracle AUC of true_pd on the labels, aimed for by the spread of the true logit.
ORACLE_AUC_RANGE = (0.80, 0.88)
#: Share of 投贷联动 applicants with an equity round before the application (DOMAIN.md: VC-backed).
TDLD_WITH_ROUND_SHARE = 0.95
