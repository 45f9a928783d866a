"""The data contract: one pandera schema per raw table, and when each row becomes known.

A bank maps its own data to these tables and the synthetic market writes them, so this module
is the single place where a column's type, nullability and rules are stated; loaders,
features and docs all read it. Money is in 万元 unless a column name says otherwise.

Dtypes after loading (``features.loaders`` coerces to them, pandera checks the rest):

- dates: ``datetime64[us]`` (:data:`DATE_DTYPE`), midnight only. pandera does not check
  the resolution of a datetime column, so the loaders enforce it.
- text: pandas' string dtype (``str``).
- integers that may be missing (counts, ``days_past_due``, ``default_12m``): ``float64``
  with NaN and a whole-number check, so numpy feature code needs no masked arrays;
  integers that may not be missing (years, terms, tiers): ``int64``.
- flags: ``bool``, never missing.

Rules that relate two columns of a row are frame-level checks whose ``name`` is the column
they are reported against and whose ``error`` is the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from features.credit_code import valid_mask

DATE_DTYPE = "datetime64[us]"

INDUSTRIES = (
    "electronic_info",
    "bio_medicine",
    "aerospace",
    "new_materials",
    "high_tech_services",
    "new_energy",
    "resources_environment",
    "advanced_manufacturing",
    "other",
)
IP_TYPES = ("invention", "utility_model", "design", "software_copyright", "ic_layout", "trademark")
CREDIT_EVENT_KINDS = (
    "loan_opened",
    "loan_repaid",
    "overdue",
    "court_judgment",
    "enforcement_dishonest",
    "tax_arrears",
    "admin_penalty",
    "utility_arrears",
    "abnormal_operation",
)
RATINGS = ("A", "B", "M", "C", "D")
ROUNDS = ("seed", "angel", "A", "B", "C+", "strategic")
SUPPORT_KINDS = (
    "innovation_voucher",
    "innovation_fund",
    "little_giant_fund",
    "achievement_conversion",
    "tech_contract",
    "university_project",
    "tax_relief",
)
PRODUCTS = ("tdld", "xyd")
GUARANTEES = ("none", "fund", "ip_pledge")


# -- column builders -------------------------------------------------------------------------
def _check(ok: Callable[[pd.Series], pd.Series], rule: str) -> pa.Check:
    return pa.Check(ok, error=rule)


def _ge(bound: float) -> pa.Check:
    return pa.Check.ge(bound, error=f"must be >= {bound}")


def _between(low: float, high: float) -> pa.Check:
    return pa.Check.in_range(low, high, error=f"must be between {low} and {high}")


def _one_of(values: Sequence[object]) -> pa.Check:
    return pa.Check.isin(values, error=f"must be one of: {', '.join(map(str, values))}")


def _credit_code(unique: bool = False) -> pa.Column:
    valid = _check(
        lambda s: pd.Series(valid_mask(s), index=s.index),
        "must be a valid unified social credit code (GB 32100-2015)",
    )
    return pa.Column(str, valid, unique=unique)


def _text(unique: bool = False) -> pa.Column:
    return pa.Column(str, unique=unique)


def _choice(values: Sequence[str]) -> pa.Column:
    return pa.Column(str, _one_of(values))


def _date(*checks: pa.Check, nullable: bool = False) -> pa.Column:
    midnight = _check(lambda s: s == s.dt.normalize(), "must be a date without a time of day")
    return pa.Column(DATE_DTYPE, [midnight, *checks], nullable=nullable)


def _amount(*checks: pa.Check, nullable: bool = True) -> pa.Column:
    """Money or another real quantity; ``>= 0`` unless other checks are given."""
    return pa.Column(float, list(checks) or [_ge(0)], nullable=nullable)


def _signed_amount() -> pa.Column:
    """Money that may be negative (profit, cash flow)."""
    return pa.Column(float, nullable=True)


def _count(*checks: pa.Check) -> pa.Column:
    """A missing-allowed integer, stored as float64 (see the module docstring)."""
    whole = _check(lambda s: s == np.floor(s), "must be a whole number")
    return pa.Column(float, [whole, *(checks or (_ge(0),))], nullable=True)


def _integer(*checks: pa.Check) -> pa.Column:
    return pa.Column("int64", list(checks))


def _flag() -> pa.Column:
    return pa.Column(bool)


# -- row rules -------------------------------------------------------------------------------
def _row_rule(column: str, rule: str, ok: Callable[[pd.DataFrame], pd.Series]) -> pa.Check:
    """A rule across columns of one row, reported against ``column`` (the check's name)."""
    return pa.Check(ok, name=column, error=rule, ignore_na=False)


def _at_most(column: str, other: str) -> pa.Check:
    return _row_rule(
        column,
        f"must be <= {other}",
        lambda df: df[column].isna() | df[other].isna() | (df[column] <= df[other]),
    )


def _not_before(column: str, other: str) -> pa.Check:
    return _row_rule(
        column,
        f"must be on or after {other}",
        lambda df: df[column].isna() | df[other].isna() | (df[column] >= df[other]),
    )


def _requires(column: str, other: str) -> pa.Check:
    return _row_rule(column, f"requires {other}", lambda df: df[column].isna() | df[other].notna())


def _table(
    name: str, columns: dict[str, pa.Column], *checks: pa.Check, unique: list[str] | None = None
) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(columns, checks=list(checks), unique=unique, name=name)


# -- the tables ------------------------------------------------------------------------------
FIRMS = _table(
    "firms",
    {
        "credit_code": _credit_code(unique=True),
        "name": _text(),
        "founded_on": _date(),
        "registered_capital": _amount(nullable=False),
        "industry": _choice(INDUSTRIES),
        "district": _text(),
        "is_high_tech": _flag(),
        "high_tech_cert_on": _date(nullable=True),
        "is_tech_sme": _flag(),
        "is_specialized": _flag(),
        "is_little_giant": _flag(),
        "is_listed": _flag(),
    },
)

IP_ASSETS = _table(
    "ip_assets",
    {
        "credit_code": _credit_code(),
        "ip_id": _text(unique=True),
        "ip_type": _choice(IP_TYPES),
        "filed_on": _date(),
        "granted_on": _date(nullable=True),
        "lapsed_on": _date(nullable=True),
        "claims": _count(),
        "forward_citations": _count(),
        "acquired": _flag(),
        "pledged_on": _date(nullable=True),
    },
    _not_before("granted_on", "filed_on"),
    _requires("lapsed_on", "granted_on"),
    _not_before("lapsed_on", "granted_on"),
    _requires("pledged_on", "granted_on"),
    _not_before("pledged_on", "granted_on"),
)

FINANCIALS = _table(
    "financials",
    {
        "credit_code": _credit_code(),
        "fiscal_year": _integer(_between(1990, 2100)),
        "revenue": _amount(),
        "rd_expense": _amount(),
        "high_tech_revenue": _amount(),
        "cost_total": _amount(),
        "net_profit": _signed_amount(),
        "total_assets": _amount(),
        "total_liabilities": _amount(),
        "current_assets": _amount(),
        "current_liabilities": _amount(),
        "operating_cash_flow": _signed_amount(),
    },
    _at_most("high_tech_revenue", "revenue"),
    _at_most("current_assets", "total_assets"),
    unique=["credit_code", "fiscal_year"],
)

STAFFING = _table(
    "staffing",
    {
        "credit_code": _credit_code(),
        "month": _date(_check(lambda s: s.dt.day == 1, "must be the first day of a month")),
        "employees": _count(),
        "rd_staff": _count(),
        "tech_staff": _count(),
        "college_educated": _count(),
        "social_insured": _count(),
    },
    *(
        _at_most(c, "employees")
        for c in ("rd_staff", "tech_staff", "college_educated", "social_insured")
    ),
    unique=["credit_code", "month"],
)

_OVERDUE = "overdue"
CREDIT_EVENTS = _table(
    "credit_events",
    {
        "credit_code": _credit_code(),
        "event_on": _date(),
        "kind": _choice(CREDIT_EVENT_KINDS),
        "amount": _amount(),
        "days_past_due": _count(),
    },
    _row_rule(
        "days_past_due",
        "is required when kind is overdue",
        lambda df: (df["kind"] != _OVERDUE) | df["days_past_due"].notna(),
    ),
    _row_rule(
        "days_past_due",
        "must be >= 1 when kind is overdue",
        lambda df: (
            (df["kind"] != _OVERDUE) | df["days_past_due"].isna() | (df["days_past_due"] >= 1)
        ),
    ),
)

TAX_RATINGS = _table(
    "tax_ratings",
    {
        "credit_code": _credit_code(),
        "year": _integer(_between(1990, 2100)),
        "rating": _choice(RATINGS),
    },
    unique=["credit_code", "year"],
)

FINANCING_ROUNDS = _table(
    "financing_rounds",
    {
        "credit_code": _credit_code(),
        "closed_on": _date(),
        "round": _choice(ROUNDS),
        "amount": _amount(nullable=False),
        "lead_investor_tier": _integer(_between(1, 3)),
    },
)

SUPPORT_RECORDS = _table(
    "support_records",
    {
        "credit_code": _credit_code(),
        "event_on": _date(),
        "kind": _choice(SUPPORT_KINDS),
        "amount": _amount(),
    },
)

APPLICATIONS = _table(
    "applications",
    {
        "loan_id": _text(unique=True),
        "credit_code": _credit_code(),
        "product": _choice(PRODUCTS),
        "applied_on": _date(),
        "amount": _amount(pa.Check.gt(0, error="must be > 0"), nullable=False),
        "term_months": _integer(_between(1, 120)),
        "guarantee": _choice(GUARANTEES),
        "default_12m": _count(_one_of((0, 1))),
    },
)

TRUTH = _table(
    "truth",
    {
        "loan_id": _text(unique=True),
        "true_pd": _amount(_between(0, 1), nullable=False),
    },
)

TABLES: dict[str, pa.DataFrameSchema] = {
    schema.name: schema
    for schema in (
        FIRMS,
        IP_ASSETS,
        FINANCIALS,
        STAFFING,
        CREDIT_EVENTS,
        TAX_RATINGS,
        FINANCING_ROUNDS,
        SUPPORT_RECORDS,
        APPLICATIONS,
        TRUTH,
    )
}

#: Tables a feature build may read; ``truth`` is for evaluation only.
SOURCE_TABLES = tuple(name for name in TABLES if name != "truth")

DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c for c, col in schema.columns.items() if col.dtype.type.kind == "M")
    for name, schema in TABLES.items()
}


# -- point in time ---------------------------------------------------------------------------
@dataclass(frozen=True)
class KnownOn:
    """When a fact becomes known: the date in ``column``, moved ``years`` and ``months`` on.

    For an integer year column, ``on`` = (month, day) picks the day within the year
    ``column + years`` (a fiscal year's accounts are filed by the next year's 31 May).
    A feature as of D may use the fact only when its known-on date is strictly before D.
    """

    column: str
    years: int = 0
    months: int = 0
    on: tuple[int, int] | None = None

    def describe(self) -> str:
        """The rule in words, for docs and model cards."""
        shift = [
            f"+ {n} {unit}{'s' if n > 1 else ''}"
            for n, unit in ((self.years, "year"), (self.months, "month"))
            if n
        ]
        day = f" on {self.on[0]:02d}-{self.on[1]:02d}" if self.on else ""
        return " ".join([self.column, *shift]) + day

    def dates(self, frame: pd.DataFrame) -> pd.Series:
        """Known-on date of each row of ``frame`` (``datetime64[us]``; NaT when undated)."""
        values = frame[self.column]
        if self.on is not None:
            month, day = self.on
            year = (values.to_numpy(dtype=np.int64) + self.years - 1970).astype("datetime64[Y]")
            known = year.astype("datetime64[M]") + (month - 1)
            dates = known.astype("datetime64[D]") + (day - 1)
            return pd.Series(dates, index=frame.index).astype(DATE_DTYPE)
        if self.years or self.months:
            values = values + pd.DateOffset(years=self.years, months=self.months)
        return values.astype(DATE_DTYPE)


#: The date from which each table's rows are known (``truth`` is never a feature source).
KNOWN_ON: dict[str, KnownOn] = {
    "firms": KnownOn("founded_on"),
    "ip_assets": KnownOn("filed_on"),
    "financials": KnownOn("fiscal_year", years=1, on=(5, 31)),
    "staffing": KnownOn("month", months=1),
    "credit_events": KnownOn("event_on"),
    "tax_ratings": KnownOn("year", years=1, on=(4, 30)),
    "financing_rounds": KnownOn("closed_on"),
    "support_records": KnownOn("event_on"),
    "applications": KnownOn("applied_on"),
}

#: Values known later than their row. Date columns are known on their own date (a grant on
#: ``granted_on``); these are the other columns that arrive late.
VALUE_KNOWN_ON: dict[tuple[str, str], KnownOn] = {
    ("ip_assets", "forward_citations"): KnownOn("granted_on", years=3),
    ("applications", "default_12m"): KnownOn("applied_on", months=12),
}
