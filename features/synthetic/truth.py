r"""The true 12-month PD of an application: a documented non-linear function of the records.

``logit(true_pd) = INTERCEPT + Σ terms`` (INTERCEPT = -4.25), every term read **as of the
application date D** from records known strictly before D (the known-at rules of
``features.timing``, as the features use them), plus a modest latent part::

    family      reading as of D                       contribution to the logit
    rd          R&D / revenue r, latest filed FY      interp(r; 0 1 3 5 8 15 % →
                                                        +0.7 +0.5 +0.25 0 -0.2 -0.25)
                                                      + cash burn 1.0·clip((r - 20 %) / 30 %,
                                                        0, 1) unless a round closed in 12 m
    financials  revenue growth g, consecutive FYs     -0.52·clip(g, -0.6, 0.6)
                debt / assets L                       +1.05·clip(L - 0.6, 0, 0.8),
                                                        ×0.4 with a round in the last 12 m
                operating cash flow / revenue m       interp(m; -50 -15 0 10 25 % →
                                                        +0.52 +0.26 +0.06 -0.06 -0.13)
                current ratio c                       +0.33·clip(1 - c, 0, 1)
                loan amount / revenue b               +0.25·clip(log2(b / 25 %), 0, 3)
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

The non-linearities are the R&D sweet spot and cash burn, the leverage × fresh-equity
interaction, the 断点 ramp, the delinquency bands and the age curve. A missing reading (thin
file, no rating yet) contributes 0 to its own term. The latent part (standard deviation
≈ 0.43 over applications) is all a model on the records cannot see; health also drives the
records themselves (revenue, cash flow, overdues, ratings, lapses, headcount), so most of
it is observable. The spread of the sum puts the oracle AUC near 0.85, and INTERCEPT the
default rate near 4.5 %. Labels are ``default_12m ~ Bernoulli(true_pd)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.pit import MISSING_DAY, EventStream, Queries, add_months
from features.schemas import RATINGS
from features.synthetic import calibration as cal
from features.synthetic.dates import DAYS_PER_MONTH, DAYS_PER_YEAR, day
from features.synthetic.draws import sigmoid
from features.synthetic.financing import LATE_STAGES
from features.synthetic.ip import CLASS1_TYPES, PATENT_TYPES, PLEDGEABLE_TYPES
from features.synthetic.population import Population
from features.timing import (
    CITATION_WINDOW_MONTHS,
    financials_known_day,
    staffing_known_day,
    tax_rating_known_day,
)

INTERCEPT = -4.25
#: Tax-rating term by rating (A … D), and for firms without a rating yet.
TAX_TERM = {"A": -0.35, "B": 0.0, "M": 0.14, "C": 0.45, "D": 0.85}
TAX_TERM_UNRATED = 0.05
LATENT_HEALTH = 0.4
EXPORT_SHOCK_TERM = 0.35
EXPORT_SHOCK_FROM, EXPORT_SHOCK_UNTIL = day("2020-02-01"), day("2022-01-01")
#: Months after the last round at which a VC-backed firm starts to run short of cash.
ROUND_DUE_MONTHS = cal.EXPECTED_ROUND_GAP_MONTHS + cal.FINANCING_GAP_MONTHS
#: A loan up to this share of annual revenue adds no risk; each doubling beyond adds 0.25.
LOAN_BURDEN_FREE = 0.25
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
            financials_known_day(f["fiscal_year"].astype(np.float64)),
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
            staffing_known_day(s["month"]),
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
            add_months(np.where(granted == MISSING_DAY, 0, granted), CITATION_WINDOW_MONTHS),
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
            firm, tax_rating_known_day(year.astype(np.float64)), rating=rating.astype(np.float64)
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
            export_shock=self.pop.exporter[firm]
            & (q.day >= EXPORT_SHOCK_FROM)
            & (q.day < EXPORT_SHOCK_UNTIL),
        )


def logit_terms(r: Readings) -> dict[str, np.ndarray]:
    """Each family's contribution to the true logit (the formula of the module docstring)."""
    recent_vc = r.months_since_round <= 12
    rd = np.interp(r.rd_ratio, [0, 0.01, 0.03, 0.05, 0.08, 0.15], [0.7, 0.5, 0.25, 0, -0.2, -0.25])
    rd += np.where(recent_vc, 0.0, 1.0 * np.clip((r.rd_ratio - 0.20) / 0.30, 0, 1))
    financials = (
        _or0(-0.52 * np.clip(r.revenue_growth, -0.6, 0.6))
        + _or0(1.05 * np.clip(r.debt_to_assets - 0.6, 0, 0.8) * np.where(recent_vc, 0.4, 1.0))
        + _or0(
            np.interp(r.ocf_margin, [-0.5, -0.15, 0, 0.1, 0.25], [0.52, 0.26, 0.06, -0.06, -0.13])
        )
        + _or0(0.33 * np.clip(1 - r.current_ratio, 0, 1))
        + _or0(0.25 * np.clip(np.log2(r.loan_to_revenue / LOAN_BURDEN_FREE), 0, 3))
    )
    staff = (
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
    return {
        "rd": _or0(rd),
        "financials": financials,
        "staff": staff,
        "credit": credit,
        "tax": tax,
        "ip": ip,
        "financing": _or0(gap),
        "support": -0.1 * np.minimum(r.support_36m, 3),
        "age": np.interp(r.age_years, [0, 1, 2, 3, 5, 8], [0.9, 0.7, 0.5, 0.35, 0.15, 0]),
        "thin_file": 0.2 * ~r.has_financials + 0.13 * ~r.has_staffing,
        "latent": -LATENT_HEALTH * r.health + EXPORT_SHOCK_TERM * r.export_shock,
    }


def true_logit(r: Readings) -> np.ndarray:
    """INTERCEPT plus the sum of ``logit_terms``."""
    return INTERCEPT + sum(logit_terms(r).values())


def true_pd(r: Readings) -> np.ndarray:
    """sigmoid(true_logit)."""
    return sigmoid(true_logit(r))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _or0(term: np.ndarray) -> np.ndarray:
    """A term whose reading is missing contributes nothing."""
    return np.nan_to_num(term, nan=0.0)
