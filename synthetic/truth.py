r"""The true 12-month PD of an application: a documented non-linear function of the records.

``logit(true_pd) = INTERCEPT + SPREAD · Σ terms``, every term read **as of the
application date D** from records known strictly before D (the known-at rules of
``features.timing``, as the features use them), plus a modest latent part::

    family      reading as of D                       contribution to the logit
    rd          R&D / revenue r, latest filed FY      RD_BANDS_WEIGHT · interp(r; 0 1 3 5 8 15 % →
                                                        +0.7 +0.5 +0.25 0 -0.2 -0.25)
                                                      + cash burn 1.0·clip((r - 20 %) / 30 %,
                                                        0, 1) unless a round closed in 12 m
    financials  revenue growth g, consecutive FYs     -0.52·clip(g, -0.6, 0.6)
                debt / assets L                       +1.05·clip(L - 0.6, 0, 0.8),
                                                        ×0.4 with a round in the last 12 m
                operating cash flow / revenue m       interp(m; -50 -15 0 10 25 % →
                                                        +0.52 +0.26 +0.06 -0.06 -0.13)
                current ratio c                       +0.33·clip(1 - c, 0, 1)
    staff       tech staff share t                    interp(t; 0 10 30 60 % →
                                                        +0.35 +0.2 0 -0.12)
                college-educated share e              interp(e; 0 30 60 100 % →
                                                        +0.3 +0.08 0 -0.08)
                social-insured share s                interp(s; 40 75 90 100 % →
                                                        +0.45 +0.2 +0.03 0)
                headcount growth over 12 months g     -0.52·clip(g, -0.5, 0.5)
    credit      max days past due in 24 months d      +0.22 (1–29), +0.55 (30–89), +1.1 (90+)
                dishonest-enforcement in 36 months    +0.8 if any
                court judgments in 36 months          +0.23 each, up to 3
                tax arrears in 24 months              +0.23 each, up to 2
                abnormal operation in 24 months       +0.4 if any
    tax         latest published rating               A -0.35, B 0, M +0.14, C +0.45,
                                                        D +0.85, none yet +0.05
    ip          valid class-I rights n (invention,    -0.3·log1p(n)
                  IC layout)
                citations per patent c (3-year        -0.25·log1p(c)
                  count, known 3 years after grant)
                patents lapsed in 24 months           +0.3 each, up to 3
    financing   months since the last round M         -0.3 (M ≤ 12), -0.1 (M ≤ 22: expected 18
                                                        + the 断点 4), else +0.16 +
                                                        0.33·clip((M - 22) / 18, 0, 1), halved
                                                        at stage C+/strategic; 0 if no round
    support     support records in 36 months k        -0.1·min(k, 3) (tax relief not counted)
    age         firm age a in years                   interp(a; 0 1 2 3 5 8 →
                                                        +0.9 +0.7 +0.5 +0.35 +0.15 0)
    thin_file   no filed financials / no staffing     +0.2 / +0.13
    latent      health h in the year of D             -0.4·h
                exporter with D in 2020-02 … 2021-12  +0.35
                  or in an extension's shock    (its first February to the next year's end)

Interactions and regimes (the constants are named below; the table gives base weights):

- R&D: the DOMAIN.md bands enter at RD_BANDS_WEIGHT; the main R&D term is the shortfall
  from the field's own norm (RD_NORM_BY_INDUSTRY: biotech 15 %, IT services 3 % …),
  RD_BELOW_NORM per unit of log shortfall; an established firm (≥ 8 years) below 3 % adds
  STAGNATION_TERM; R&D far above revenue (> 15 %) is planned for a venture-backed firm and
  costly for one on its own funds (HEAVY_RD_*).
- Regimes: a firm within VENTURE_RUNWAY_MONTHS of a round is judged on its runway (the
  financing-gap term × GAP_WEIGHT) while its statements barely count (FINANCIALS_VENTURE);
  a firm on its own funds is judged on statements and tax compliance (FINANCIALS_OWN_FUNDS,
  TAX_OWN_FUNDS).
- Cushion: delinquency costs CREDIT_EXPOSED× for a firm with neither fresh equity nor
  positive cash flow and CREDIT_CUSHIONED× with fresh equity; leverage likewise; the
  weaknesses of R&D, staff, IP, tax and age are scaled by CUSHION_*; youth costs less with
  fresh equity and more for a firm never VC-backed (AGE_*).
- Ratios and conjunctions no single column shows: the loan's burden on revenue
  (LOAN_BURDEN_*), losing cash while carrying debt (SQUEEZE_TERM), hiring fast on falling
  revenue (OVERREACH_TERM), a young firm with no statements and no investor (YOUNG_THIN_TERM).

The logit is INTERCEPT + SPREAD · Σ terms; SPREAD sets the oracle AUC (≈ 0.86) without
changing how the terms weigh each other, INTERCEPT the default rate (≈ 4.7 %). A missing
reading (thin file, no rating yet) contributes 0 to its own term. The latent part
(standard deviation ≈ 0.43 before SPREAD) is all a model on the records cannot see; health
also drives the records themselves (revenue, cash flow, overdues, ratings, lapses,
headcount), so most of it is observable. Labels are ``default_12m ~ Bernoulli(true_pd)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.pit import MISSING_DAY, EventStream, Queries
from features.schemas import RATINGS
from features.timing import known_days, value_known_days
from synthetic import calibration as cal
from synthetic.dates import DAYS_PER_MONTH, DAYS_PER_YEAR, day, year_start
from synthetic.draws import sigmoid
from synthetic.financing import LATE_STAGES
from synthetic.ip import CLASS1_TYPES, PATENT_TYPES, PLEDGEABLE_TYPES
from synthetic.population import Population

INTERCEPT = -5.3
#: Scales the whole sum: sets the oracle AUC without changing how the terms weigh each other.
SPREAD = 0.72
#: Interactions: how much of a firm's cushion (fresh equity, positive operating cash flow)
#: changes what its weaknesses cost. Delinquency hurts a firm with no cushion far more.
CREDIT_EXPOSED, CREDIT_CUSHIONED = 2.2, 0.3
LEVERAGE_EXPOSED = 1.6
#: Youth is risky, much less so with fresh equity, more so for firms never VC-backed.
AGE_WITH_FRESH_EQUITY, AGE_WITHOUT_EQUITY = 0.4, 1.5
#: Regimes: within this many months of a round a venture-backed firm lives on its runway.
VENTURE_RUNWAY_MONTHS = 30
FINANCIALS_VENTURE, FINANCIALS_OWN_FUNDS, GAP_WEIGHT = 0.1, 0.6, 2.0
TAX_VENTURE, TAX_OWN_FUNDS = 0.3, 0.6
HEAVY_RD_VENTURE, HEAVY_RD_OWN_FUNDS = 0.5, 1.0
#: Typical R&D / revenue of a healthy firm in each field (order of INDUSTRIES); falling short
#: of it costs RD_BELOW_NORM per unit of log shortfall. The DOMAIN.md bands keep a share.
RD_NORM_BY_INDUSTRY = np.array([0.08, 0.15, 0.10, 0.05, 0.03, 0.05, 0.04, 0.05, 0.03])
RD_BELOW_NORM, RD_BANDS_WEIGHT = 0.7, 0.4
#: How a firm's cushion scales its weaknesses (fresh equity, strong cash, exposed).
CUSHION_EQUITY, CUSHION_CASH, CUSHION_EXPOSED = 0.7, 0.8, 1.2
#: Delinquency speaks for itself in every regime, at this weight.
CREDIT_WEIGHT = 0.4
#: An established firm (8+ years) that spends < 3 % of revenue on R&D is losing its edge.
STAGNATION_AGE, STAGNATION_TERM = 8.0, 0.6
#: Tax-rating term by rating (A … D), and for firms without a rating yet.
TAX_TERM = {"A": -0.35, "B": 0.0, "M": 0.14, "C": 0.45, "D": 0.85}
TAX_TERM_UNRATED = 0.05
LATENT_HEALTH = 0.4
EXPORT_SHOCK_TERM = 0.35
EXPORT_SHOCK_FROM, EXPORT_SHOCK_UNTIL = day("2020-02-01"), day("2022-01-01")
#: Months after the last round at which a VC-backed firm starts to run short of cash.
ROUND_DUE_MONTHS = cal.EXPECTED_ROUND_GAP_MONTHS + cal.FINANCING_GAP_MONTHS
#: A loan up to this share of annual revenue adds no risk; each doubling beyond adds weight.
LOAN_BURDEN_FREE, LOAN_BURDEN_WEIGHT = 0.1, 0.8
OVERREACH_TERM = 0.6
STAFF_WEIGHT = 0.6
SQUEEZE_TERM = 1.5
#: A young firm with no statements and no investor: nobody has vetted it yet.
YOUNG_THIN_TERM = 0.8
SUPPORT_KINDS_COUNTED = (
    "innovation_voucher",
    "innovation_fund",
    "little_giant_fund",
    "achievement_conversion",
    "tech_contract",
    "university_project",
)
WINDOW_24M, WINDOW_36M, WINDOW_12M = 730, 1095, 365


@dataclass(frozen=True)
class Readings:
    """As-of values the true PD reads, one entry per query; NaN where there is no record."""

    rd_ratio: np.ndarray
    loan_to_revenue: np.ndarray
    revenue_growth: np.ndarray
    debt_to_assets: np.ndarray
    ocf_margin: np.ndarray
    current_ratio: np.ndarray
    has_financials: np.ndarray
    tech_share: np.ndarray
    college_share: np.ndarray
    insured_share: np.ndarray
    staff_growth_12m: np.ndarray
    has_staffing: np.ndarray
    dpd_max_24m: np.ndarray
    dishonest_36m: np.ndarray
    court_36m: np.ndarray
    tax_arrears_24m: np.ndarray
    abnormal_24m: np.ndarray
    tax_rating: np.ndarray  # code into RATINGS, NaN if unrated
    class1_valid: np.ndarray
    citations_per_patent: np.ndarray
    lapsed_24m: np.ndarray
    months_since_round: np.ndarray
    late_stage: np.ndarray
    support_36m: np.ndarray
    age_years: np.ndarray
    health: np.ndarray
    export_shock: np.ndarray
    industry: np.ndarray  # int code into features.schemas.INDUSTRIES


class AsOfRecords:
    """The records behind the true PD as point-in-time event streams (``features.pit``).

    Credit events and tax ratings change while applications are labelled (a default writes
    its overdue, court judgment and rating into the records later applications see), so
    those two streams can be replaced; the others are built once.
    """

    def __init__(
        self,
        pop: Population,
        financials: dict[str, np.ndarray],
        staffing: dict[str, np.ndarray],
        ip: dict[str, np.ndarray],
        rounds: dict[str, np.ndarray],
        support: dict[str, np.ndarray],
        credit_events: dict[str, np.ndarray],
        tax_ratings: tuple[np.ndarray, np.ndarray, np.ndarray],
    ) -> None:
        self.pop = pop
        f = financials
        self.fin = EventStream(
            f["firm"],
            known_days("financials", {"fiscal_year": f["fiscal_year"].astype(np.float64)}),
            fiscal_year=f["fiscal_year"].astype(np.float64),
            revenue=f["revenue"],
            rd_expense=f["rd_expense"],
            total_assets=f["total_assets"],
            total_liabilities=f["total_liabilities"],
            current_assets=f["current_assets"],
            current_liabilities=f["current_liabilities"],
            operating_cash_flow=f["operating_cash_flow"],
        )
        s = staffing
        self.staff = EventStream(
            s["firm"],
            known_days("staffing", {"month": s["month"]}),
            **{
                c: s[c].astype(np.float64)
                for c in ("employees", "tech_staff", "college_educated", "social_insured")
            },
        )
        class1 = np.isin(ip["ip_type"], CLASS1_TYPES).astype(np.float64)
        patent = np.isin(ip["ip_type"], PATENT_TYPES)
        pledgeable = np.isin(ip["ip_type"], PLEDGEABLE_TYPES).astype(np.float64)
        self.granted = EventStream(
            ip["firm"], ip["granted_on"], class1=class1, pledgeable=pledgeable
        )
        self.lapsed = EventStream(
            ip["firm"],
            ip["lapsed_on"],
            class1=class1,
            pledgeable=pledgeable,
            patent=patent.astype(np.float64),
        )
        granted = ip["granted_on"]
        known = np.where(
            patent & (granted != MISSING_DAY),
            value_known_days("ip_assets", "forward_citations", {"granted_on": granted}),
            MISSING_DAY,
        )
        self.cited = EventStream(ip["firm"], known, citations=ip["forward_citations"])
        self.rounds = EventStream(
            rounds["firm"],
            rounds["closed_on"],
            late=np.isin(rounds["round"], LATE_STAGES).astype(np.float64),
        )
        counted = np.isin(support["kind"], SUPPORT_KINDS_COUNTED)
        self.support = EventStream(support["firm"][counted], support["event_on"][counted])
        self.set_credit_events(credit_events)
        self.set_tax_ratings(*tax_ratings)

    def set_credit_events(self, events: dict[str, np.ndarray]) -> None:
        """Build the adverse-event stream from all credit events written so far."""
        kind = events["kind"]
        self.credit = EventStream(
            events["firm"],
            events["event_on"],
            dpd=np.where(kind == "overdue", events["days_past_due"], np.nan),
            dishonest=(kind == "enforcement_dishonest").astype(np.float64),
            court=(kind == "court_judgment").astype(np.float64),
            tax_arrears=(kind == "tax_arrears").astype(np.float64),
            abnormal=(kind == "abnormal_operation").astype(np.float64),
        )

    def set_tax_ratings(self, firm: np.ndarray, year: np.ndarray, rating: np.ndarray) -> None:
        """Build the tax-rating stream from (firm, year, rating code into RATINGS) rows."""
        self.tax = EventStream(
            firm,
            known_days("tax_ratings", {"year": year.astype(np.float64)}),
            rating=rating.astype(np.float64),
        )

    def pledgeable_patents(self, firm: np.ndarray, when: np.ndarray) -> np.ndarray:
        """Valid invention and utility-model patents (what an IP pledge needs) as of each day."""
        q = Queries(firm.astype(np.int64), when.astype(np.int64))
        return self.granted.sum("pledgeable", q) - self.lapsed.sum("pledgeable", q)

    def read(self, firm: np.ndarray, when: np.ndarray, amount: np.ndarray) -> Readings:
        """Everything the true PD reads, as of each (firm, day), for loans of ``amount``."""
        q = Queries(firm.astype(np.int64), when.astype(np.int64))
        fin = self.fin
        revenue = fin.last("revenue", q)
        consecutive = fin.last("fiscal_year", q) - fin.last("fiscal_year", q, back=1) == 1
        revenue_prev = np.where(consecutive, fin.last("revenue", q, back=1), np.nan)
        employees = self.staff.last("employees", q)
        year_ago = self.staff.last("employees", q.shifted(WINDOW_12M))
        months = self.rounds.days_since_last(q) / DAYS_PER_MONTH
        return Readings(
            rd_ratio=_ratio(fin.last("rd_expense", q), revenue),
            loan_to_revenue=_ratio(amount, revenue),
            revenue_growth=_ratio(revenue, revenue_prev) - 1,
            debt_to_assets=_ratio(fin.last("total_liabilities", q), fin.last("total_assets", q)),
            ocf_margin=_ratio(fin.last("operating_cash_flow", q), revenue),
            current_ratio=_ratio(fin.last("current_assets", q), fin.last("current_liabilities", q)),
            has_financials=~np.isnan(revenue),
            tech_share=_ratio(self.staff.last("tech_staff", q), employees),
            college_share=_ratio(self.staff.last("college_educated", q), employees),
            insured_share=_ratio(self.staff.last("social_insured", q), employees),
            staff_growth_12m=_ratio(employees, year_ago) - 1,
            has_staffing=~np.isnan(employees),
            dpd_max_24m=np.nan_to_num(self.credit.max("dpd", q, WINDOW_24M)),
            dishonest_36m=self.credit.sum("dishonest", q, WINDOW_36M),
            court_36m=self.credit.sum("court", q, WINDOW_36M),
            tax_arrears_24m=self.credit.sum("tax_arrears", q, WINDOW_24M),
            abnormal_24m=self.credit.sum("abnormal", q, WINDOW_24M),
            tax_rating=self.tax.last("rating", q),
            class1_valid=self.granted.sum("class1", q) - self.lapsed.sum("class1", q),
            citations_per_patent=self.cited.mean("citations", q),
            lapsed_24m=self.lapsed.sum("patent", q, WINDOW_24M),
            months_since_round=months,
            late_stage=self.rounds.last("late", q) == 1,
            support_36m=self.support.count(q, WINDOW_36M),
            age_years=(q.day - self.pop.founded[firm]) / DAYS_PER_YEAR,
            health=self.pop.health_at(firm, q.day),
            industry=self.pop.industry[firm],
            export_shock=(
                self.pop.exporter[firm]
                & (q.day >= EXPORT_SHOCK_FROM)
                & (q.day < EXPORT_SHOCK_UNTIL)
            )
            | _in_extension_shock(self.pop.shock_year[firm], q.day),
        )


def logit_terms(r: Readings) -> dict[str, np.ndarray]:
    """Each family's contribution to the true logit (the formula of the module docstring)."""
    recent_vc = r.months_since_round <= 12
    ever_vc = ~np.isnan(r.months_since_round)
    # No cushion: no fresh equity and no positive operating cash flow (unknown counts as none).
    exposed = ~recent_vc & ~(r.ocf_margin > 0)
    rd = RD_BANDS_WEIGHT * np.interp(
        r.rd_ratio, [0, 0.01, 0.03, 0.05, 0.08, 0.15], [0.7, 0.5, 0.25, 0, -0.2, -0.25]
    )
    # What counts as enough R&D depends on the field: a biotech at 5 % is starving its
    # pipeline, an IT-services firm at 5 % is investing well.
    norm = RD_NORM_BY_INDUSTRY[r.industry]
    with np.errstate(divide="ignore", invalid="ignore"):
        below = np.clip(np.log(norm / np.maximum(r.rd_ratio, 1e-4)), 0, 2.5)
    rd += RD_BELOW_NORM * below
    rd += np.where(recent_vc, 0.0, 1.0 * np.clip((r.rd_ratio - 0.20) / 0.30, 0, 1))
    rd += STAGNATION_TERM * ((r.age_years >= STAGNATION_AGE) & (r.rd_ratio < 0.03))
    leverage_weight = np.where(recent_vc, 0.4, np.where(exposed, LEVERAGE_EXPOSED, 1.0))
    financials = (
        _or0(-0.52 * np.clip(r.revenue_growth, -0.6, 0.6))
        + _or0(1.05 * np.clip(r.debt_to_assets - 0.6, 0, 0.8) * leverage_weight)
        + _or0(
            np.interp(r.ocf_margin, [-0.5, -0.15, 0, 0.1, 0.25], [0.52, 0.26, 0.06, -0.06, -0.13])
        )
        + _or0(0.33 * np.clip(1 - r.current_ratio, 0, 1))
    )
    # The loan's burden on the firm's revenue: a ratio no single column shows.
    burden = _or0(LOAN_BURDEN_WEIGHT * np.clip(np.log2(r.loan_to_revenue / LOAN_BURDEN_FREE), 0, 3))
    # Hiring fast on falling revenue: expansion the business does not pay for.
    overreach = OVERREACH_TERM * ((r.staff_growth_12m > 0.2) & (r.revenue_growth < 0))
    # Losing cash while carrying debt: each alone is survivable, together they compound.
    squeeze = SQUEEZE_TERM * ((r.ocf_margin < 0) * np.clip((r.debt_to_assets - 0.45) / 0.35, 0, 1))
    staff = STAFF_WEIGHT * (
        _or0(np.interp(r.tech_share, [0, 0.1, 0.3, 0.6], [0.35, 0.2, 0, -0.12]))
        + _or0(np.interp(r.college_share, [0, 0.3, 0.6, 1], [0.3, 0.08, 0, -0.08]))
        + _or0(np.interp(r.insured_share, [0.4, 0.75, 0.9, 1], [0.45, 0.2, 0.03, 0]))
        + _or0(-0.52 * np.clip(r.staff_growth_12m, -0.5, 0.5))
    )
    d = r.dpd_max_24m
    credit = (
        np.select([d >= 90, d >= 30, d >= 1], [1.1, 0.55, 0.22], 0.0)
        + 0.8 * (r.dishonest_36m > 0)
        + 0.23 * np.minimum(r.court_36m, 3)
        + 0.23 * np.minimum(r.tax_arrears_24m, 2)
        + 0.4 * (r.abnormal_24m > 0)
    ) * (
        CREDIT_WEIGHT
        * np.where(recent_vc, CREDIT_CUSHIONED, np.where(exposed, CREDIT_EXPOSED, 1.0))
    )
    tax_terms = np.array([TAX_TERM[k] for k in RATINGS] + [TAX_TERM_UNRATED])
    tax = tax_terms[np.where(np.isnan(r.tax_rating), len(RATINGS), r.tax_rating).astype(int)]
    ip = (
        -0.3 * np.log1p(np.maximum(r.class1_valid, 0))
        + _or0(-0.25 * np.log1p(r.citations_per_patent))
        + 0.3 * np.minimum(r.lapsed_24m, 3)
    )
    m = r.months_since_round
    gap = np.where(
        m <= 12,
        -0.3,
        np.where(
            m <= ROUND_DUE_MONTHS, -0.1, 0.16 + 0.33 * np.clip((m - ROUND_DUE_MONTHS) / 18, 0, 1)
        ),
    )
    gap = np.where((m > ROUND_DUE_MONTHS) & r.late_stage, 0.5 * gap, gap)
    age = np.interp(r.age_years, [0, 1, 2, 3, 5, 8], [0.9, 0.7, 0.5, 0.35, 0.15, 0])
    age *= np.where(recent_vc, AGE_WITH_FRESH_EQUITY, np.where(ever_vc, 1.0, AGE_WITHOUT_EQUITY))
    # Two regimes: a venture-backed firm within its funding runway burns cash by design, so
    # its statements say little while its runway says much; a firm living on its own
    # revenue is judged on its statements and its tax compliance.
    venture = ever_vc & (m <= VENTURE_RUNWAY_MONTHS)
    financials *= np.where(venture, FINANCIALS_VENTURE, FINANCIALS_OWN_FUNDS)
    tax *= np.where(venture, TAX_VENTURE, TAX_OWN_FUNDS)
    # R&D far beyond revenue is the plan for a funded venture, and ruin for a firm without one.
    heavy_rd = np.clip((r.rd_ratio - 0.15) / 0.25, 0, 1)
    rd += _or0(np.where(venture, -HEAVY_RD_VENTURE, HEAVY_RD_OWN_FUNDS) * heavy_rd)
    gap = np.where(venture | (m > VENTURE_RUNWAY_MONTHS), gap * GAP_WEIGHT, gap)
    # A firm's cushion scales every weakness: the same shortfall is a nuisance to a firm with
    # fresh equity or strong cash flow and a threat to one with neither.
    cushion = np.select(
        [recent_vc, (r.ocf_margin > 0.05) & (r.current_ratio > 1.5), exposed],
        [CUSHION_EQUITY, CUSHION_CASH, CUSHION_EXPOSED],
        1.0,
    )
    rd, staff, ip, tax, age = (cushion * t for t in (rd, staff, ip, tax, age))
    return {
        "rd": _or0(rd),
        "financials": financials + burden + np.where(venture, 0.0, overreach + _or0(squeeze)),
        "staff": staff,
        "credit": credit,
        "tax": tax,
        "ip": ip,
        "financing": _or0(gap),
        "support": -0.1 * np.minimum(r.support_36m, 3),
        "age": age,
        "thin_file": 0.2 * ~r.has_financials
        + 0.13 * ~r.has_staffing
        + YOUNG_THIN_TERM * (~r.has_financials & (r.age_years < 3) & ~ever_vc),
        "latent": -LATENT_HEALTH * r.health + EXPORT_SHOCK_TERM * r.export_shock,
    }


def true_logit(r: Readings) -> np.ndarray:
    """INTERCEPT plus the sum of ``logit_terms``."""
    return INTERCEPT + SPREAD * sum(logit_terms(r).values())


def true_pd(r: Readings) -> np.ndarray:
    """sigmoid(true_logit)."""
    return sigmoid(true_logit(r))


def _in_extension_shock(shock_year: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Within an extension's shock: February of its first year to the end of the next
    (the span of the 2020 shock)."""
    shift = day("2020-02-01") - day("2020-01-01")
    start = year_start(np.maximum(shock_year, 1970)) + shift
    end = year_start(np.maximum(shock_year, 1970) + 2)
    return (shock_year > 0) & (days >= start) & (days < end)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _or0(term: np.ndarray) -> np.ndarray:
    """A term whose reading is missing contributes nothing."""
    return np.nan_to_num(term, nan=0.0)
