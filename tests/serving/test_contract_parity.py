"""The two sides of the contract agree: files and requests reject the same broken rule.

Both are derived from ``features.contract``; this test holds them to it. Valid rows are drawn
from a synthetic market; each declared rule (bounds, choices, nullability, credit codes, row
rules) is broken once, and the file loader (``split_valid``) and the request model must both
reject the row at the same field with the same rule. A valid row must pass both.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from features.contract import BY_NAME, Column, RowRule, Table
from features.loaders import split_valid
from serving.schemas import RECORD_MODELS, Application, validation_errors
from synthetic import generate_market

MODELS = {**RECORD_MODELS, "applications": Application}
TABLES = [BY_NAME[name] for name in MODELS]
#: Rows broken per example: the file side validates them in one call, as a loader would.
ROWS_PER_EXAMPLE = 8
SETTINGS = settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def rows() -> dict[str, list[dict[str, Any]]]:
    """Valid rows of every request table, as plain Python values (None for missing)."""
    market = generate_market(n_firms=200, seed=11)
    return {name: [_plain(r) for r in market[name].to_dict("records")] for name in MODELS}


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for column, value in row.items():
        if isinstance(value, pd.Timestamp):
            value = value.date()
        elif value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
            value = None
        elif isinstance(value, np.generic):
            value = value.item()
        out[column] = value
    return out


# -- the two sides ---------------------------------------------------------------------------
def file_failures(table: Table, rows: list[dict[str, Any]]) -> list[set[tuple[str, str]]]:
    """Per row, (column, rule) of every failure the file loader reports for it."""
    frame = pd.DataFrame(rows, columns=[c.name for c in table.columns])
    _, failures = split_valid(table.name, frame)
    out: list[set[tuple[str, str]]] = [set() for _ in rows]
    for f in failures:
        out[f.row].add((f.column, f.rule))
    return out


def request_failures(table: Table, row: dict[str, Any]) -> set[tuple[str, str]]:
    """(column, rule) of every error the request model reports for ``row`` (as JSON sends it)."""
    body = {
        c.field_name: row[c.name].isoformat() if isinstance(row[c.name], dt.date) else row[c.name]
        for c in table.columns
        if c.request != "absent" and row[c.name] is not None
    }
    names = {c.field_name: c.name for c in table.columns}
    try:
        MODELS[table.name].model_validate(body)
    except ValidationError as exc:
        return {(names[e["field"]], e["rule"]) for e in validation_errors(exc)}
    return set()


def same_rule(file_rule: str, request_rule: str) -> bool:
    """Whether two texts state one rule: the request side may name the kind of value
    ("must be a whole number >= 0" for the file's "must be >= 0"), add the bound's value or
    the reason ("must be <= revenue (120)"), and says "is required" for "must not be null"."""
    if request_rule.startswith(file_rule):
        return True
    if (file_rule, request_rule) == ("must not be null", "is required"):
        return True
    bound = file_rule.removeprefix("must be ")
    return any(request_rule == f"must be a {kind} {bound}" for kind in ("number", "whole number"))


def assert_both_reject(table: Table, rows: list[dict[str, Any]], column: str, rule: str) -> None:
    """Both sides reject every row at ``column`` for ``rule``, and the request side reports
    no rule the file side does not."""
    for row, files in zip(rows, file_failures(table, rows), strict=True):
        requests = request_failures(table, row)
        assert (column, rule) in files, (row, files)
        assert any(c == column and same_rule(rule, r) for c, r in requests), (row, requests)
        # A request stops at a field's type before its row rules, so it may report fewer
        # rules, never one the file loader does not report.
        for c, r in requests:
            assert any(fc == c and same_rule(fr, r) for fc, fr in files), (c, r, files)


# -- valid rows ------------------------------------------------------------------------------
@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
@SETTINGS
@given(data=st.data())
def test_a_valid_row_passes_both_sides(rows, table, data):
    drawn = data.draw(st.lists(st.sampled_from(rows[table.name]), min_size=1, max_size=20))
    assert file_failures(table, drawn) == [set()] * len(drawn)
    assert all(request_failures(table, row) == set() for row in drawn)


# -- each column rule broken once ------------------------------------------------------------
def column_breaks(table: Table) -> list[tuple[Column, str]]:
    """Every declared column rule of ``table`` as (column, what breaks it)."""
    breaks = []
    for column in table.columns:
        if column.request == "absent":
            continue
        refers_to_firm = column.kind == "credit_code" and not column.unique
        if not (column.nullable or refers_to_firm or column.request == "optional"):
            breaks.append((column, "null"))
        for bound in ("ge", "gt", "le"):
            if getattr(column, bound) is not None:
                breaks.append((column, bound))
        if column.choices:
            breaks.append((column, "choices"))
        if column.max_chars is not None:
            breaks.append((column, "max_chars"))
        if column.kind == "credit_code":
            breaks.append((column, "check character"))
    return breaks


COLUMN_BREAKS = [(t, c, how) for t in TABLES for c, how in column_breaks(t)]


@pytest.mark.parametrize(
    ("table", "column", "how"),
    COLUMN_BREAKS,
    ids=[f"{t.name}.{c.name}.{how}" for t, c, how in COLUMN_BREAKS],
)
@SETTINGS
@given(data=st.data())
def test_each_broken_column_rule_is_rejected_by_both_sides(rows, table, column, how, data):
    broken = []
    for _ in range(ROWS_PER_EXAMPLE):
        row = dict(data.draw(st.sampled_from(rows[table.name])))
        row[column.name], rule = break_column(column, how, row[column.name], data)
        broken.append(row)
    assert_both_reject(table, broken, column.name, rule)


def break_column(column: Column, how: str, value: Any, data: st.DataObject) -> tuple[Any, str]:
    """A value that breaks ``column``'s rule ``how``, and the rule in the file side's words."""
    whole = column.kind in ("count", "integer")
    if how == "null":
        return None, "must not be null"
    if how == "ge":
        below = (
            st.integers(-(10**6), math.ceil(column.ge) - 1)
            if whole
            else st.floats(-1e9, column.ge, exclude_max=True, allow_nan=False)
        )
        return data.draw(below), bounds_rule(column)
    if how == "gt":
        return data.draw(st.floats(-1e9, column.gt, allow_nan=False)), bounds_rule(column)
    if how == "le":
        # Up to ten times the bound: a unit slip (元 for 万元) is the usual way past it.
        above = (
            st.integers(math.floor(column.le) + 1, 10 * math.floor(column.le) + 10)
            if whole
            else st.floats(column.le, 10 * column.le + 10, exclude_min=True, allow_nan=False)
        )
        return data.draw(above), bounds_rule(column)
    if how == "max_chars":
        # Past the bound by one character up to a pasted page.
        longer = st.integers(column.max_chars + 1, 50 * column.max_chars)
        return "名" * data.draw(longer), f"must be at most {column.max_chars} characters"
    if how == "choices":
        other = st.text(min_size=1, max_size=12).filter(lambda v: v not in column.choices)
        return data.draw(other), f"must be one of: {', '.join(map(str, column.choices))}"
    # A wrong check character; the request side adds which character is wrong.
    wrong = data.draw(st.sampled_from(CODE_CHARACTERS).filter(lambda ch: ch != value[-1]))
    return value[:-1] + wrong, "must be a valid unified social credit code (GB 32100-2015)"


def bounds_rule(column: Column) -> str:
    """The file side's words for ``column``'s bounds (``features.schemas``)."""
    ge, gt, le = column.ge, column.gt, column.le
    if ge is not None and le is not None:
        return f"must be between {ge} and {le}"
    if gt is not None and le is not None:
        return f"must be > {gt} and <= {le}"
    if ge is not None:
        return f"must be >= {ge}"
    return f"must be > {gt}" if gt is not None else f"must be <= {le}"


#: The characters of a unified social credit code (GB 32100-2015: no I, O, S, V, Z).
CODE_CHARACTERS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


# -- each row rule broken once ---------------------------------------------------------------
ROW_RULES = [(t, rule) for t in TABLES for rule in t.rules]


@pytest.mark.parametrize(
    ("table", "rule"), ROW_RULES, ids=[f"{t.name}.{r.kind}.{r.column}" for t, r in ROW_RULES]
)
@SETTINGS
@given(data=st.data())
def test_each_broken_row_rule_is_rejected_by_both_sides(rows, table, rule, data):
    pool = rows[table.name]
    broken = []
    for _ in range(ROWS_PER_EXAMPLE):
        row = dict(data.draw(st.sampled_from(pool)))
        break_row_rule(rule, row, pool, data)
        broken.append(row)
    assert_both_reject(table, broken, rule.column, rule.text)


def break_row_rule(
    rule: RowRule, row: dict[str, Any], pool: list[dict[str, Any]], data: st.DataObject
) -> None:
    """Change ``row`` so that ``rule`` fails; a value the rule needs present is drawn from
    the column's values in other valid rows."""
    column = rule.column
    other = rule.reads[0] if rule.reads else None

    def present(name: str) -> Any:
        if row[name] is None:
            row[name] = data.draw(st.sampled_from([r[name] for r in pool if r[name] is not None]))
        return row[name]

    if rule.kind == "not_before":
        row[column] = present(other) - dt.timedelta(days=data.draw(st.integers(1, 3650)))
    elif rule.kind == "at_most":
        row[column] = present(other) + data.draw(st.integers(1, 1000))
    elif rule.kind == "requires":
        present(column)
        row[other] = None
    elif rule.kind == "first_of_month":
        row[column] = row[column].replace(day=data.draw(st.integers(2, 28)))
    elif rule.kind == "required_when":
        row[other], row[column] = rule.params[0], None
    elif rule.kind == "at_least_when":
        value, bound = rule.params
        row[other], row[column] = value, data.draw(st.integers(0, bound - 1))
    else:
        raise AssertionError(f"no way to break rule kind {rule.kind!r}: add one here")


@pytest.mark.parametrize(
    ("table", "rule"), ROW_RULES, ids=[f"{t.name}.{r.kind}.{r.column}" for t, r in ROW_RULES]
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_the_one_record_form_of_each_row_rule_agrees(rows, table, rule, data):
    """``holds_one`` (the request side's) says what ``holds`` says of one record's values:
    valid, broken, and with the columns it reads missing."""
    row = dict(data.draw(st.sampled_from(rows[table.name])))
    if data.draw(st.booleans()):
        break_row_rule(rule, row, rows[table.name], data)
    for name in (rule.column, *rule.reads):
        if data.draw(st.booleans()):
            row[name] = None
    assert rule.holds_one(row) == bool(rule.holds(row)), row
