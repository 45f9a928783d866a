"""Typed errors, so the service can map each to an HTTP 4xx naming the field, value and rule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from techrisk_base.errors import TechriskError

#: How many example values a message quotes per rule; the full list is in ``failures``.
_EXAMPLES = 3
#: How many rules a message describes before summarising the rest.
_RULES = 10


class UnknownFirm(TechriskError):
    """A credit code that the data at hand does not know."""


@dataclass(frozen=True)
class Failure:
    """One broken rule in one row.

    ``row`` is the 0-based row position in the table as given, or ``None`` when the rule
    concerns the whole table (a missing column). ``column`` names the column the rule is
    reported against; a composite key is named as ``"credit_code, fiscal_year"``.
    """

    row: int | None
    column: str
    value: object
    rule: str


class SchemaError(TechriskError):
    """A raw table breaks the data contract; ``failures`` lists every failing row and rule.

    ``column``, ``rule`` and ``value`` describe the first failure, for callers (and HTTP
    responses) that report one.
    """

    def __init__(self, table: str, failures: Sequence[Failure]) -> None:
        if not failures:
            raise ValueError("SchemaError needs at least one failure")
        self.table = table
        self.failures = list(failures)
        first = self.failures[0]
        self.column = first.column
        self.rule = first.rule
        self.value = first.value
        super().__init__(_describe(table, self.failures))


def _describe(table: str, failures: Sequence[Failure]) -> str:
    """One line per (column, rule): examples of bad values with their rows, and a count."""
    groups: dict[tuple[str, str], list[Failure]] = {}
    for failure in failures:
        groups.setdefault((failure.column, failure.rule), []).append(failure)
    lines = [
        _describe_group(table, column, rule, group)
        for (column, rule), group in list(groups.items())[:_RULES]
    ]
    if len(groups) > _RULES:
        lines.append(f"{table}: ... and {len(groups) - _RULES} more rule(s) failing")
    return "\n".join(lines)


def _describe_group(table: str, column: str, rule: str, group: list[Failure]) -> str:
    label = f"columns ({column})" if ", " in column else f"column '{column}'"
    if group[0].row is None:
        return f"{table}: {label} {rule}"
    examples = ", ".join(f"{_show(f.value)} at row {f.row}" for f in group[:_EXAMPLES])
    more = ", ..." if len(group) > _EXAMPLES else ""
    rows = "row" if len(group) == 1 else "rows"
    return f"{table}: {label} {rule}; got {examples}{more} ({len(group)} {rows} failing)"


def _show(value: object) -> str:
    """Values as a reader would type them: quoted text, ISO dates, plain numbers."""
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    if value is None or pd.isna(value):
        return "null"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dt.date | np.datetime64):
        stamp = pd.Timestamp(value)
        return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat()
    return str(value)
