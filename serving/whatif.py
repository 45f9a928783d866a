"""What-if: a small typed language of changes to a firm's raw records, and its application.

A loan officer asks "what if the firm spent more on R&D, had two more invention patents
granted, cleared its overdue, closed a new round, earned a better tax rating?". Each question
is a :data:`Change`; :func:`apply_changes` rewrites the request's *raw records* accordingly
and the result is scored through the very same feature code and model as ``/score`` — nothing
is approximated on the feature side or in the browser.

Every change acts on what the model can see as of the application date D: the records known
strictly before D under the contract's known-on rules (``features.schemas.KNOWN_ON``). A
change that has nothing to act on (no fiscal year filed before D to raise R&D in) is an error
naming the change, not a silent no-op.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from statistics import median
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from features.schemas import RATINGS, ROUNDS
from features.timing import KNOWN_ON, known_days
from serving.schemas import CHILD_TABLES, ScoreRequest

#: The record models the changes build, derived from the contract (``serving.schemas``).
Financials = CHILD_TABLES["financials"]
FinancingRound = CHILD_TABLES["financing_rounds"]
IpAsset = CHILD_TABLES["ip_assets"]
TaxRatingRecord = CHILD_TABLES["tax_ratings"]

#: Grant and closing dates of added records sit this many days before the as-of date: late
#: enough to be "recent", early enough to be known strictly before D.
RECENT_DAYS = 30
#: An added invention patent is filed this long before its grant (a typical 发明 examination).
INVENTION_EXAMINATION_DAYS = 720
#: Claims of an added invention when the firm has no granted invention to copy them from.
DEFAULT_CLAIMS = 10


#: How a round reads in Chinese (种子轮, 天使轮, A 轮…).
ROUND_ZH = {
    "seed": "种子轮",
    "angel": "天使轮",
    "A": "A 轮",
    "B": "B 轮",
    "C+": "C 轮及以后",
    "strategic": "战略",
}


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RdExpense(_Change):
    """Set the R&D expense (万元) of the latest fiscal year filed before the as-of date."""

    kind: Literal["rd_expense"]
    value: float = Field(ge=0, le=1e7, description="R&D expense of that year, 万元")


class InventionPatents(_Change):
    """Add ``count`` own-R&D invention patents granted shortly before the as-of date."""

    kind: Literal["invention_patents"]
    count: int = Field(ge=1, le=50)


class ClearOverdues(_Change):
    """Remove the overdue events on file (cleared and corrected on the credit report)."""

    kind: Literal["clear_overdues"]


class EquityRound(_Change):
    """Add an equity round closed shortly before the as-of date."""

    kind: Literal["equity_round"]
    amount: float = Field(gt=0, le=1e7, description="round size, 万元")
    round: Literal[ROUNDS] = "A"  # type: ignore[valid-type]
    lead_investor_tier: int = Field(default=2, ge=1, le=3)


class TaxRatingChange(_Change):
    """Set the 纳税信用等级 of the latest tax year published before the as-of date."""

    kind: Literal["tax_rating"]
    rating: Literal[RATINGS]  # type: ignore[valid-type]


Change = Annotated[
    RdExpense | InventionPatents | ClearOverdues | EquityRound | TaxRatingChange,
    Field(discriminator="kind"),
]


class ChangeNotApplicable(ValueError):
    """A change with nothing to act on; ``field`` locates it in the request body."""

    def __init__(self, field: str, value: object, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field, self.value, self.rule = field, value, rule

    def describe(self) -> dict[str, Any]:
        return {"field": self.field, "value": self.value, "rule": self.rule}


def describe(change: _Change) -> dict[str, str]:
    """The change in the officer's words (zh, en), for the page and the credit memo."""
    match change:
        case RdExpense(value=v):
            return {
                "zh": f"最近年度研发费用调整为 {v:,.0f} 万元",
                "en": f"R&D expense of the latest year set to CNY {v / 100:,.2f}m",
            }
        case InventionPatents(count=n):
            return {"zh": f"新增 {n} 件授权发明专利", "en": f"{n} more invention patents granted"}
        case ClearOverdues():
            return {"zh": "结清并更正全部逾期记录", "en": "all overdues cleared from the file"}
        case EquityRound(amount=a, round=r):
            return {
                "zh": f"完成{ROUND_ZH[r]}股权融资 {a:,.0f} 万元",
                "en": f"a new {r} equity round of CNY {a / 100:,.2f}m",
            }
        case TaxRatingChange(rating=r):
            return {"zh": f"纳税信用等级为 {r} 级", "en": f"tax credit rating of {r}"}
    raise TypeError(f"unknown change {change!r}")


def apply_changes(request: ScoreRequest, changes: Sequence[_Change]) -> ScoreRequest:
    """The request with ``changes`` applied to its raw records.

    Each new or changed record is validated by its table's model (the request's other records
    were validated already), and none can break a rule across records: added records take the
    firm's credit code and fresh keys, and the application is untouched. Counterfactual search
    applies hundreds of variants per firm, so re-validating every record would dominate it.

    Raises :class:`ChangeNotApplicable` for a change with nothing to act on, and pydantic's
    ``ValidationError`` if a changed record breaks a contract rule.
    """
    tables = {table: list(records) for table, records in request.records()}
    as_of = request.application.as_of
    code = request.firm.credit_code
    for i, change in enumerate(changes):
        _APPLY[type(change)](tables, change, as_of, code, f"changes[{i}]")
    return request.model_copy(update=tables)


#: numpy's day 0, for comparing a date with the clock's int days.
_EPOCH = dt.date(1970, 1, 1)


def known_before(table: str, record: Any, as_of: dt.date) -> bool:
    """Whether ``record`` of ``table`` is known strictly before ``as_of`` (the contract's clock)."""
    column = KNOWN_ON[table].column
    day = known_days(table, {column: np.array([getattr(record, column)])})[0]
    return bool(day < (as_of - _EPOCH).days)


def _set_rd(tables: _Tables, change: RdExpense, as_of: dt.date, _code: str, loc: str) -> None:
    rows = tables["financials"]
    filed = [k for k, r in enumerate(rows) if known_before("financials", r, as_of)]
    if not filed:
        raise ChangeNotApplicable(
            loc, change.kind, f"needs a fiscal year filed before the as-of date ({as_of})"
        )
    k = max(filed, key=lambda k: rows[k].fiscal_year)
    rows[k] = Financials.model_validate({**rows[k].model_dump(), "rd_expense": change.value})


def _add_patents(
    tables: _Tables, change: InventionPatents, as_of: dt.date, code: str, _loc: str
) -> None:
    rows = tables["ip_assets"]
    claims = [r.claims for r in rows if r.ip_type == "invention" and r.claims is not None]
    taken = {r.ip_id for r in rows}
    granted = as_of - dt.timedelta(days=RECENT_DAYS)
    added = 0
    for n in itertools.count(1):
        ip_id = f"whatif-invention-{n}"
        if ip_id in taken:
            continue
        rows.append(
            IpAsset.model_validate(
                {
                    "credit_code": code,
                    "ip_id": ip_id,
                    "ip_type": "invention",
                    "filed_on": granted - dt.timedelta(days=INVENTION_EXAMINATION_DAYS),
                    "granted_on": granted,
                    "claims": round(median(claims)) if claims else DEFAULT_CLAIMS,
                    "acquired": False,
                }
            )
        )
        added += 1
        if added == change.count:
            return


def _clear_overdues(
    tables: _Tables, change: ClearOverdues, as_of: dt.date, _code: str, loc: str
) -> None:
    events = tables["credit_events"]
    kept = [
        e for e in events if not (e.kind == "overdue" and known_before("credit_events", e, as_of))
    ]
    if len(kept) == len(events):
        raise ChangeNotApplicable(loc, change.kind, "the firm has no overdue on file to clear")
    tables["credit_events"] = kept


def _add_round(tables: _Tables, change: EquityRound, as_of: dt.date, code: str, _loc: str) -> None:
    tables["financing_rounds"].append(
        FinancingRound.model_validate(
            {
                "credit_code": code,
                "closed_on": as_of - dt.timedelta(days=RECENT_DAYS),
                "round": change.round,
                "amount": change.amount,
                "lead_investor_tier": change.lead_investor_tier,
            }
        )
    )


def _set_tax(
    tables: _Tables, change: TaxRatingChange, as_of: dt.date, code: str, _loc: str
) -> None:
    rows = tables["tax_ratings"]
    published = [k for k, r in enumerate(rows) if known_before("tax_ratings", r, as_of)]
    if published:
        k = max(published, key=lambda k: rows[k].year)
        rows[k] = rows[k].model_copy(update={"rating": change.rating})
        return
    # No rating published yet: the latest tax year whose rating is out before D gets one
    # (no record of that year exists, or it would be published).
    year = as_of.year - 1
    while not known_before(
        "tax_ratings", TaxRatingRecord(credit_code=code, year=year, rating="A"), as_of
    ):
        year -= 1
    rows.append(TaxRatingRecord(credit_code=code, year=year, rating=change.rating))


_Tables = dict[str, list[Any]]
_APPLY = {
    RdExpense: _set_rd,
    InventionPatents: _add_patents,
    ClearOverdues: _clear_overdues,
    EquityRound: _add_round,
    TaxRatingChange: _set_tax,
}


class WhatIfChanges(BaseModel):
    """The changes of a ``/whatif`` body, validated apart from its score request."""

    model_config = ConfigDict(extra="forbid")

    changes: list[Change] = Field(min_length=1, max_length=10)


def parse_changes(raw: object) -> list[_Change]:
    """``raw`` (a JSON list) as changes; pydantic's ``ValidationError`` names a bad one."""
    return WhatIfChanges.model_validate({"changes": raw}).changes
