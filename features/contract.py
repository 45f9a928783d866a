"""The data contract as data: every table, column, row rule, key and known-on rule, once.

Both sides of the contract are derived from these declarations and from nothing else:
``features.schemas`` builds the pandera schemas the file loaders validate with, and
``serving.schemas`` builds the pydantic record models a request is validated with. Adding a
column or a table is one edit here; ``tests/features/test_contract_parity.py`` proves the two
sides reject the same broken rule at the same field.

A row rule is stated once as a predicate over a *row*, a mapping of column name to value. The
file side passes pandas Series (a whole table at once), the request side plain Python values
(one record): :func:`missing` and :func:`compare` read both, so neither side restates a rule.
Money is in 万元 unless a column name says otherwise.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from features.pit import MISSING_DAY, add_months, as_days

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

#: What a column holds, which fixes its dtype after loading and its request type:
#: ``credit_code`` and ``text`` and ``choice`` are strings; ``date`` is ``datetime64[us]``;
#: ``real`` is float64 (money, ratios); ``count`` is a whole number that may be missing, kept
#: as float64 with NaN; ``integer`` is a whole number never missing (int64); ``flag`` a bool.
Kind = Literal["credit_code", "text", "choice", "date", "real", "count", "integer", "flag"]


@dataclass(frozen=True)
class Column:
    """One column: its kind, whether it may be missing, its bounds or choices.

    ``request`` says how the request side carries it: ``"field"`` as declared, ``"optional"``
    as an optional field although files must fill it (a loan id the bank may not have yet),
    ``"absent"`` not at all (an outcome known only later). ``request_name`` renames it there.
    """

    name: str
    kind: Kind
    nullable: bool = False
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    choices: tuple[Any, ...] = ()
    unique: bool = False
    max_chars: int | None = None
    request: Literal["field", "optional", "absent"] = "field"
    request_name: str | None = None
    #: ``"optional"``: a file may leave the column out (read as missing), so that a column
    #: added to the contract does not break the files banks already export.
    in_files: Literal["required", "optional"] = "required"

    @property
    def field_name(self) -> str:
        """The name of the column in a request."""
        return self.request_name or self.name


def credit_code(name: str = "credit_code", *, unique: bool = False) -> Column:
    return Column(name, "credit_code", unique=unique)


def text(name: str, *, unique: bool = False, nullable: bool = False, **request: Any) -> Column:
    return Column(
        name, "text", nullable=nullable, unique=unique, max_chars=TEXT_MAX_CHARS, **request
    )


def choice(name: str, values: tuple[str, ...]) -> Column:
    return Column(name, "choice", choices=values)


def date(name: str, *, nullable: bool = False, **request: Any) -> Column:
    return Column(name, "date", nullable=nullable, **request)


# -- plausibility ----------------------------------------------------------------------------
#: The largest amount of money (万元) a record may hold: 1,000 亿元, beyond any firm a
#: tech-SME lender sees. Larger is a unit slip (元 sent as 万元) or garbage, in a request or a
#: file, and a number no float64 feature should be computed from.
MONEY_MAX = 10_000_000
#: The largest loan (万元) an application may ask for: 10 亿元.
LOAN_MAX = 100_000
#: The largest headcount of one month.
STAFF_MAX = 1_000_000
#: The longest text a record may hold (a firm's registered name, a district, an IP or loan
#: id): registered names run to a few dozen characters; a 100,000-character "name" would be
#: scored and kept in every audit row.
TEXT_MAX_CHARS = 200


def amount(
    name: str, *, nullable: bool = True, gt: float | None = None, le: float = MONEY_MAX
) -> Column:
    """Money or another real quantity, ``>= 0`` unless ``gt`` bounds it instead, and at most
    ``le`` (:data:`MONEY_MAX` unless given)."""
    ge = None if gt is not None else 0
    return Column(name, "real", nullable=nullable, ge=ge, gt=gt, le=le)


def signed_amount(name: str) -> Column:
    """Money that may be negative (profit, cash flow), within ±:data:`MONEY_MAX`."""
    return Column(name, "real", nullable=True, ge=-MONEY_MAX, le=MONEY_MAX)


def count(
    name: str, *, le: int | None = None, choices: tuple[int, ...] = (), **request: Any
) -> Column:
    """A whole number that may be missing, between 0 and ``le`` unless ``choices`` are given."""
    ge = None if choices else 0
    return Column(name, "count", nullable=True, ge=ge, le=le, choices=choices, **request)


def integer(name: str, low: int, high: int) -> Column:
    return Column(name, "integer", ge=low, le=high)


def flag(name: str) -> Column:
    return Column(name, "flag")


# -- row rules -------------------------------------------------------------------------------
#: A row: column name → value, as pandas Series (a table) or Python values (one record).
Row = Mapping[str, Any]


def missing(value: Any) -> Any:
    """Whether ``value`` (a Series or one value) is missing."""
    if value is None:
        return True
    return value.isna() if isinstance(value, pd.Series) else False


def present(value: Any) -> Any:
    """Whether ``value`` (a Series or one value) is present."""
    if value is None:
        return False
    return value.notna() if isinstance(value, pd.Series) else True


def compare(op: Callable[[Any, Any], Any], value: Any, bound: Any) -> Any:
    """``op(value, bound)``, false where either side is missing (NaN and NaT compare false)."""
    if value is None or bound is None:
        return False
    return op(value, bound)


@dataclass(frozen=True)
class RowRule:
    """A rule about ``column`` that may read other columns of the same row.

    ``holds(row)`` is the rule, on a table's columns (Series) or one record's values;
    ``holds_one`` is the same rule on one record's Python values only, without the Series
    branches: a request checks a few hundred records per firm, so the service calls it (a test
    keeps the two equal). ``text`` says it in words; when ``shows`` names a column, the request
    side adds that column's value to the text ("must be <= revenue (120)"). ``kind`` and
    ``params`` name the rule and its arguments (``("overdue", 1)``) for docs and tests.
    """

    column: str
    text: str
    holds: Callable[[Row], Any]
    kind: str
    reads: tuple[str, ...] = ()
    shows: str | None = None
    params: tuple[Any, ...] = ()
    holds_one: Callable[[Row], bool] = field(kw_only=True)


def not_before(column: str, other: str) -> RowRule:
    def holds(row: Row) -> Any:
        return (
            missing(row[column])
            | missing(row[other])
            | compare(operator.ge, row[column], row[other])
        )

    def holds_one(row: Row) -> bool:
        value, bound = row[column], row[other]
        return value is None or bound is None or value >= bound

    text = f"must be on or after {other}"
    return RowRule(column, text, holds, "not_before", (other,), other, holds_one=holds_one)


def at_most(column: str, other: str) -> RowRule:
    def holds(row: Row) -> Any:
        return (
            missing(row[column])
            | missing(row[other])
            | compare(operator.le, row[column], row[other])
        )

    def holds_one(row: Row) -> bool:
        value, bound = row[column], row[other]
        return value is None or bound is None or value <= bound

    text = f"must be <= {other}"
    return RowRule(column, text, holds, "at_most", (other,), other, holds_one=holds_one)


def requires(column: str, other: str) -> RowRule:
    def holds(row: Row) -> Any:
        return missing(row[column]) | present(row[other])

    def holds_one(row: Row) -> bool:
        return row[column] is None or row[other] is not None

    return RowRule(column, f"requires {other}", holds, "requires", (other,), holds_one=holds_one)


def first_of_month(column: str) -> RowRule:
    def holds(row: Row) -> Any:
        value = row[column]
        day = value.dt.day if isinstance(value, pd.Series) else getattr(value, "day", None)
        return missing(value) | compare(operator.eq, day, 1)

    def holds_one(row: Row) -> bool:
        value = row[column]
        return value is None or getattr(value, "day", None) == 1

    text = "must be the first day of a month"
    return RowRule(column, text, holds, "first_of_month", holds_one=holds_one)


def required_when(column: str, other: str, value: str) -> RowRule:
    def holds(row: Row) -> Any:
        return compare(operator.ne, row[other], value) | present(row[column])

    def holds_one(row: Row) -> bool:
        when = row[other]
        return (when is not None and when != value) or row[column] is not None

    text = f"is required when {other} is {value}"
    return RowRule(
        column, text, holds, "required_when", (other,), params=(value,), holds_one=holds_one
    )


def at_least_when(column: str, bound: int, other: str, value: str) -> RowRule:
    def holds(row: Row) -> Any:
        return (
            compare(operator.ne, row[other], value)
            | missing(row[column])
            | compare(operator.ge, row[column], bound)
        )

    def holds_one(row: Row) -> bool:
        when, amount = row[other], row[column]
        return (when is not None and when != value) or amount is None or amount >= bound

    text = f"must be >= {bound} when {other} is {value}"
    return RowRule(
        column,
        text,
        holds,
        "at_least_when",
        (other,),
        params=(value, bound),
        holds_one=holds_one,
    )


# -- the clock -------------------------------------------------------------------------------
@dataclass(frozen=True)
class KnownOn:
    """When a fact becomes known: the date in ``column``, moved ``years`` and ``months`` on.

    For an integer year column, ``on`` = (month, day) picks the day within the year
    ``column + years`` (a fiscal year's accounts are filed by the next year's 31 May).
    A feature as of D may use the fact only when its known-on day is strictly before D.
    """

    column: str
    years: int = 0
    months: int = 0
    on: tuple[int, int] | None = None

    @property
    def shift_months(self) -> int:
        return 12 * self.years + self.months

    def describe(self) -> str:
        """The rule in words, for docs and model cards."""
        shift = [
            f"+ {n} {unit}{'s' if n > 1 else ''}"
            for n, unit in ((self.years, "year"), (self.months, "month"))
            if n
        ]
        day = f" on {self.on[0]:02d}-{self.on[1]:02d}" if self.on else ""
        return " ".join([self.column, *shift]) + day

    def days(self, columns: Mapping[str, Any]) -> np.ndarray:
        """Known-on day of each row, as int64 days since 1970 (``MISSING_DAY`` when undated).

        ``columns`` is a frame or a mapping of column → array; one row or millions.
        """
        values = columns[self.column]
        if self.on is not None:
            year = np.asarray(values, dtype=np.float64)
            absent = np.isnan(year)
            start = (np.where(absent, 1970, year).astype(np.int64) + self.years - 1970).astype(
                "datetime64[Y]"
            )
            month, day = self.on
            known = (start.astype("datetime64[M]") + (month - 1)).astype("datetime64[D]")
            return np.where(absent, MISSING_DAY, known.astype(np.int64) + (day - 1))
        days = as_days(values)
        if not self.shift_months:
            return days
        absent = days == MISSING_DAY
        return np.where(
            absent, MISSING_DAY, add_months(np.where(absent, 0, days), self.shift_months)
        )

    def dates(self, frame: pd.DataFrame) -> pd.Series:
        """:meth:`days` as dates (``datetime64[us]``; NaT when undated), indexed like ``frame``."""
        days = self.days(frame)
        dates = np.where(days == MISSING_DAY, np.iinfo(np.int64).min, days).view("datetime64[D]")
        return pd.Series(dates, index=frame.index).astype(DATE_DTYPE)


# -- tables ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Table:
    """One contract table, everything both sides need to know about it.

    ``record`` and ``doc`` name and document its request model (None: not part of a request);
    ``key`` is a uniqueness key over several columns; ``known_on`` is when a row becomes known,
    ``late_values`` when a column becomes known if later than its row.
    """

    name: str
    columns: tuple[Column, ...]
    rules: tuple[RowRule, ...] = ()
    key: tuple[str, ...] = ()
    known_on: KnownOn | None = None
    late_values: Mapping[str, KnownOn] = field(default_factory=dict)
    record: str | None = None
    doc: str = ""

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def whole_record_key(self) -> bool:
        """Whether only the whole record tells one row from another: no declared key and no
        unique column (the same credit event twice is one event counted twice)."""
        return not self.key and not any(c.unique for c in self.columns)


_STAFF_COUNTS = ("rd_staff", "tech_staff", "college_educated", "social_insured")

CONTRACT: tuple[Table, ...] = (
    Table(
        "firms",
        (
            credit_code(unique=True),
            text("name"),
            date("founded_on"),
            amount("registered_capital", nullable=False),
            choice("industry", INDUSTRIES),
            text("district"),
            flag("is_high_tech"),
            date("high_tech_cert_on", nullable=True),
            flag("is_tech_sme"),
            flag("is_specialized"),
            flag("is_little_giant"),
            flag("is_listed"),
        ),
        known_on=KnownOn("founded_on"),
        record="Firm",
        doc="The ``firms`` row: who the firm is. Its credit code keys every other record.",
    ),
    Table(
        "ip_assets",
        (
            credit_code(),
            text("ip_id", unique=True),
            choice("ip_type", IP_TYPES),
            date("filed_on"),
            date("granted_on", nullable=True),
            date("lapsed_on", nullable=True),
            count("claims", le=1_000),
            count("forward_citations", le=100_000),
            flag("acquired"),
            date("pledged_on", nullable=True),
        ),
        rules=(
            not_before("granted_on", "filed_on"),
            requires("lapsed_on", "granted_on"),
            not_before("lapsed_on", "granted_on"),
            requires("pledged_on", "granted_on"),
            not_before("pledged_on", "granted_on"),
        ),
        known_on=KnownOn("filed_on"),
        # Citations within 3 years after grant: the count is known only then.
        late_values={"forward_citations": KnownOn("granted_on", years=3)},
        record="IpAsset",
        doc="A patent, software copyright or trademark (``ip_assets``).",
    ),
    Table(
        "financials",
        (
            credit_code(),
            integer("fiscal_year", 1990, 2100),
            amount("revenue"),
            amount("rd_expense"),
            amount("high_tech_revenue"),
            amount("cost_total"),
            signed_amount("net_profit"),
            amount("total_assets"),
            amount("total_liabilities"),
            amount("current_assets"),
            amount("current_liabilities"),
            signed_amount("operating_cash_flow"),
        ),
        rules=(
            at_most("high_tech_revenue", "revenue"),
            at_most("current_assets", "total_assets"),
        ),
        key=("credit_code", "fiscal_year"),
        # Annual reports are filed within 5 months of the year end (by 31 May of Y+1).
        known_on=KnownOn("fiscal_year", years=1, on=(5, 31)),
        record="Financials",
        doc="One fiscal year's accounts (``financials``), in 万元.",
    ),
    Table(
        "staffing",
        (
            credit_code(),
            date("month"),
            count("employees", le=STAFF_MAX),
            *(count(c, le=STAFF_MAX) for c in _STAFF_COUNTS),
        ),
        rules=(first_of_month("month"), *(at_most(c, "employees") for c in _STAFF_COUNTS)),
        key=("credit_code", "month"),
        # A month's headcount is known once the month is over.
        known_on=KnownOn("month", months=1),
        record="Staffing",
        doc="One month's headcounts (``staffing``); ``month`` is the month's first day.",
    ),
    Table(
        "credit_events",
        (
            credit_code(),
            date("event_on"),
            choice("kind", CREDIT_EVENT_KINDS),
            amount("amount"),
            count("days_past_due", le=10_000),
            # The credit report's own number for the record (账户编号, 案号): two loans opened
            # on one day for the same amount are two records only if they say which is which.
            text("record_id", nullable=True, in_files="optional"),
        ),
        # An overdue event must say how late it was: ``days_past_due`` drives the risk.
        rules=(
            required_when("days_past_due", "kind", "overdue"),
            at_least_when("days_past_due", 1, "kind", "overdue"),
        ),
        known_on=KnownOn("event_on"),
        record="CreditEvent",
        doc="A credit-report or public-credit event (``credit_events``).",
    ),
    Table(
        "tax_ratings",
        (credit_code(), integer("year", 1990, 2100), choice("rating", RATINGS)),
        key=("credit_code", "year"),
        # Annual tax credit ratings (纳税信用等级) are published by the end of April of Y+1.
        known_on=KnownOn("year", years=1, on=(4, 30)),
        record="TaxRating",
        doc="One year's 纳税信用等级 (``tax_ratings``).",
    ),
    Table(
        "financing_rounds",
        (
            credit_code(),
            date("closed_on"),
            choice("round", ROUNDS),
            amount("amount", nullable=False),
            integer("lead_investor_tier", 1, 3),
        ),
        known_on=KnownOn("closed_on"),
        record="FinancingRound",
        doc="An equity round (``financing_rounds``).",
    ),
    Table(
        "support_records",
        (credit_code(), date("event_on"), choice("kind", SUPPORT_KINDS), amount("amount")),
        known_on=KnownOn("event_on"),
        record="SupportRecord",
        doc="A public support or technology-market event (``support_records``).",
    ),
    Table(
        "applications",
        (
            text("loan_id", unique=True, request="optional"),
            credit_code(),
            choice("product", PRODUCTS),
            date("applied_on", request_name="as_of"),
            amount("amount", nullable=False, gt=0, le=LOAN_MAX),
            integer("term_months", 1, 120),
            choice("guarantee", GUARANTEES),
            count("default_12m", choices=(0, 1), request="absent"),
        ),
        known_on=KnownOn("applied_on"),
        late_values={"default_12m": KnownOn("applied_on", months=12)},
        record="Application",
        doc=(
            "The loan applied for. ``as_of`` is the contract's ``applied_on``: features use only\n"
            "    records known strictly before it."
        ),
    ),
    Table(
        "truth",
        (
            text("loan_id", unique=True),
            Column("true_pd", "real", ge=0, le=1),
        ),
    ),
)

BY_NAME: dict[str, Table] = {table.name: table for table in CONTRACT}
