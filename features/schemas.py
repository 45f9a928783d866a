"""The file side of the data contract: one pandera schema per raw table.

Every schema is derived from the declaration in ``features.contract`` (columns, dtypes,
nullability, bounds, choices, row rules, keys); this module only says how a declared column
becomes a pandera column. Money is in 万元 unless a column name says otherwise.

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

import numpy as np
import pandas as pd
import pandera.pandas as pa

from features.contract import (
    BY_NAME,
    CONTRACT,
    CREDIT_EVENT_KINDS,
    DATE_DTYPE,
    GUARANTEES,
    INDUSTRIES,
    IP_TYPES,
    PRODUCTS,
    RATINGS,
    ROUNDS,
    SUPPORT_KINDS,
    Column,
    RowRule,
    Table,
)
from features.credit_code import valid_mask
from features.timing import KNOWN_ON, VALUE_KNOWN_ON, KnownOn

__all__ = [
    "CREDIT_EVENT_KINDS",
    "DATE_COLUMNS",
    "DATE_DTYPE",
    "GUARANTEES",
    "INDUSTRIES",
    "IP_TYPES",
    "KNOWN_ON",
    "PRODUCTS",
    "RATINGS",
    "ROUNDS",
    "SOURCE_TABLES",
    "SUPPORT_KINDS",
    "TABLES",
    "VALUE_KNOWN_ON",
    "KnownOn",
]


def _check(ok: Callable[[pd.Series], pd.Series], rule: str) -> pa.Check:
    return pa.Check(ok, error=rule)


def _column_checks(column: Column) -> list[pa.Check]:
    """The checks of one declared column, each named by its rule in words."""
    checks: list[pa.Check] = []
    if column.kind == "credit_code":
        checks.append(
            _check(
                lambda s: pd.Series(valid_mask(s), index=s.index),
                "must be a valid unified social credit code (GB 32100-2015)",
            )
        )
    if column.kind == "date":
        checks.append(
            _check(lambda s: s == s.dt.normalize(), "must be a date without a time of day")
        )
    if column.kind == "count":
        checks.append(_check(lambda s: s == np.floor(s), "must be a whole number"))
    if column.choices:
        checks.append(_one_of(column.choices))
    if column.max_chars is not None:
        checks.append(
            pa.Check.str_length(
                max_value=column.max_chars, error=f"must be at most {column.max_chars} characters"
            )
        )
    if column.ge is not None and column.le is not None:
        checks.append(
            pa.Check.in_range(
                column.ge, column.le, error=f"must be between {column.ge} and {column.le}"
            )
        )
    elif column.gt is not None and column.le is not None:
        checks.append(
            pa.Check.in_range(
                column.gt,
                column.le,
                include_min=False,
                error=f"must be > {column.gt} and <= {column.le}",
            )
        )
    elif column.ge is not None:
        checks.append(pa.Check.ge(column.ge, error=f"must be >= {column.ge}"))
    elif column.gt is not None:
        checks.append(pa.Check.gt(column.gt, error=f"must be > {column.gt}"))
    elif column.le is not None:
        checks.append(pa.Check.le(column.le, error=f"must be <= {column.le}"))
    return checks


def _one_of(values: Sequence[object]) -> pa.Check:
    return pa.Check.isin(values, error=f"must be one of: {', '.join(map(str, values))}")


_DTYPES = {"date": DATE_DTYPE, "real": float, "count": float, "integer": "int64", "flag": bool}


def _column(column: Column, rules: Sequence[RowRule]) -> pa.Column:
    """A pandera column; a rule that reads no other column is checked here, as its own."""
    own = [
        _check(lambda s, rule=rule: rule.holds({rule.column: s}), rule.text)
        for rule in rules
        if rule.column == column.name and not rule.reads
    ]
    return pa.Column(
        _DTYPES.get(column.kind, str),
        [*_column_checks(column), *own],
        nullable=column.nullable,
        unique=column.unique,
    )


def _row_rule(rule: RowRule) -> pa.Check:
    """A rule across columns of one row, reported against its column (the check's name)."""
    return pa.Check(rule.holds, name=rule.column, error=rule.text, ignore_na=False)


def _schema(table: Table) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {c.name: _column(c, table.rules) for c in table.columns},
        checks=[_row_rule(rule) for rule in table.rules if rule.reads],
        unique=list(table.key)
        or ([c.name for c in table.columns] if table.whole_record_key else None),
        name=table.name,
    )


TABLES: dict[str, pa.DataFrameSchema] = {table.name: _schema(table) for table in CONTRACT}

#: Tables a feature build may read; ``truth`` is for evaluation only.
SOURCE_TABLES = tuple(name for name in TABLES if BY_NAME[name].known_on is not None)

DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    table.name: tuple(c.name for c in table.columns if c.kind == "date") for table in CONTRACT
}
