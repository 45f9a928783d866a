"""Column types as a bank's export has them: numbers written as text, placeholders, free text.

A spreadsheet or core-banking export writes ``"32,812"``, ``"¥1,200.50"``, ``"12.5%"`` or
``"n/a"`` in a column that is a number. Read as-is, pandas keeps it as text, and a text column
would become a categorical feature with thousands of levels that pins down the label on train
(and is then called leakage). Here such a column is parsed as numeric with the placeholders as
missing, and the run says so; a text column that is neither a number nor a low-cardinality
category is reported and left out instead of being turned into a feature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "FREE_TEXT_LEVELS",
    "HIGH_CARDINALITY_LEVELS",
    "MIN_PARSED_SHARE",
    "PLACEHOLDERS",
    "ColumnTypes",
    "FreeText",
    "ParsedNumeric",
    "parse_number_text",
    "resolve_column_types",
]

#: Values meaning "no value" in exports (compared after stripping and lower-casing).
PLACEHOLDERS = frozenset(
    {"", "n/a", "na", "#n/a", "nan", "null", "none", "-", "--", "—", "–", "?", "无", "空"}
)
#: A text column is numeric when at least this share of its non-placeholder values parse.
MIN_PARSED_SHARE = 0.95
#: A categorical column with more levels than this gets a warning (thin levels overfit).
HIGH_CARDINALITY_LEVELS = 30
#: A text column with more distinct values than this, or with mostly unique values, is free
#: text (names, addresses, comments), not a category.
FREE_TEXT_LEVELS = 200
#: Share of distinct values among the known ones above which a text column is free text.
FREE_TEXT_UNIQUE_SHARE = 0.5

_CURRENCY = re.compile(r"(?i)rmb|cny|usd|[¥￥$€£元]")
_SPACES = re.compile(r"[\s\u00a0\u3000]+")
_THOUSANDS = re.compile(r"(?<=\d)[,，'](?=\d{3}(?:\D|$))")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


@dataclass(frozen=True)
class ParsedNumeric:
    """A text column read as numbers: how many values parsed and which placeholders were seen."""

    column: str
    parsed: int
    placeholders: dict[str, int]
    percent: int

    def message(self) -> str:
        seen = ", ".join(f"'{k}' ×{v}" for k, v in sorted(self.placeholders.items())) or "none"
        pct = f"; {self.percent} percent value(s) divided by 100" if self.percent else ""
        return (
            f"{self.column}: text column parsed as numeric ({self.parsed} value(s) parsed after "
            f"removing thousands separators, currency signs and spaces{pct}; placeholders read as "
            f"missing: {seen})."
        )


@dataclass(frozen=True)
class FreeText:
    """A text column that is neither a number nor a usable category, left out of the model."""

    column: str
    distinct: int
    known: int
    examples: list[str]

    def message(self) -> str:
        return (
            f"{self.column}: free text, not used as a feature ({self.distinct} distinct values "
            f"among {self.known} known, e.g. {self.examples}); rule: a text column that does not "
            f"parse as numbers (≥ {MIN_PARSED_SHARE:.0%}) must have at most {FREE_TEXT_LEVELS} "
            f"levels and at most {FREE_TEXT_UNIQUE_SHARE:.0%} distinct values to be a category."
        )


@dataclass(frozen=True)
class ColumnTypes:
    """What the loader decided about each text column, for the data report and the card."""

    parsed: list[ParsedNumeric] = field(default_factory=list)
    free_text: list[FreeText] = field(default_factory=list)
    #: Categorical column → number of levels, for those above ``HIGH_CARDINALITY_LEVELS``.
    high_cardinality: dict[str, int] = field(default_factory=dict)

    def messages(self) -> list[str]:
        """One line per finding, worded for the data report's warnings."""
        return [
            *(p.message() for p in self.parsed),
            *(f.message() for f in self.free_text),
            *(
                f"{c}: high-cardinality categorical ({n} levels > {HIGH_CARDINALITY_LEVELS}); "
                "thin levels overfit, consider grouping them."
                for c, n in self.high_cardinality.items()
            ),
        ]


def _placeholder_mask(text: pd.Series) -> pd.Series:
    return text.str.strip().str.lower().isin(PLACEHOLDERS)


def parse_number_text(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Numbers from text; returns (numbers, placeholder mask, percent mask).

    Thousands separators (``,``, ``，``, ``'``), currency signs and codes (¥ ￥ $ € £ 元 RMB CNY
    USD), spaces and accounting negatives ``(1,234)`` are understood; ``12.5%`` is 0.125, the
    number it denotes. A value that is neither a number nor a placeholder becomes NaN and is
    counted by the caller as not parsed.
    """
    text = values.astype("string")
    placeholder = (_placeholder_mask(text).fillna(True) | text.isna()).astype(bool)
    cleaned = text.str.replace(_SPACES, "", regex=True).str.replace(_CURRENCY, "", regex=True)
    negative = cleaned.str.match(r"^\(.*\)$").fillna(False).astype(bool)
    cleaned = cleaned.str.strip("()")
    percent = cleaned.str.endswith("%").fillna(False).astype(bool)
    cleaned = cleaned.str.rstrip("%").str.replace(_THOUSANDS, "", regex=True)
    valid = cleaned.str.fullmatch(_NUMBER.pattern).fillna(False).astype(bool)
    numbers = pd.to_numeric(cleaned.where(valid), errors="coerce").astype(np.float64)
    numbers = numbers.where(~percent, numbers / 100.0).where(~negative, -numbers)
    numbers[placeholder] = np.nan
    return numbers, placeholder, percent & valid


def resolve_column_types(
    frame: pd.DataFrame, features: list[str], declared_categorical: set[str]
) -> tuple[pd.DataFrame, list[str], ColumnTypes]:
    """Parse numeric text columns, drop free-text ones, and flag high-cardinality categories.

    Returns the frame with parsed columns replaced, the features still usable, and what was
    found. Columns declared categorical (config or feature registry) are never parsed as
    numbers, but are still checked for cardinality.
    """
    frame = frame.copy()
    parsed: list[ParsedNumeric] = []
    free_text: list[FreeText] = []
    high: dict[str, int] = {}
    kept: list[str] = []
    for column in features:
        values = frame[column]
        is_text = not pd.api.types.is_numeric_dtype(values.dtype) and not isinstance(
            values.dtype, pd.CategoricalDtype
        )
        if is_text and column not in declared_categorical:
            numbers, placeholder, percent = parse_number_text(values)
            candidates = int((~placeholder).sum())
            ok = int(numbers.notna().sum())
            if candidates and ok >= MIN_PARSED_SHARE * candidates:
                seen = values[placeholder].astype("string").fillna("(empty)").str.strip()
                parsed.append(
                    ParsedNumeric(
                        column,
                        ok,
                        {str(k): int(v) for k, v in seen.value_counts().items()},
                        int(percent.sum()),
                    )
                )
                frame[column] = numbers
                kept.append(column)
                continue
            known = values[~placeholder].astype(str)
            distinct = int(known.nunique())
            if distinct > FREE_TEXT_LEVELS or (
                distinct > HIGH_CARDINALITY_LEVELS
                and distinct > FREE_TEXT_UNIQUE_SHARE * max(len(known), 1)
            ):
                examples = [str(v)[:40] for v in pd.unique(known)[:3]]
                free_text.append(FreeText(column, distinct, len(known), examples))
                continue
        if is_text:
            frame[column] = values.mask(_placeholder_mask(values.astype("string")).fillna(True))
        if is_text or column in declared_categorical:
            levels = int(frame[column].nunique(dropna=True))
            if levels > HIGH_CARDINALITY_LEVELS:
                high[column] = levels
        kept.append(column)
    return frame, kept, ColumnTypes(parsed, free_text, high)
