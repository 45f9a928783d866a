"""The point-in-time clock: when each raw fact becomes known, and what that implies.

A row may only feed a feature as of D when the day it became known is strictly before D.
The rule of each table (and of values that arrive later than their row, such as forward
citations) is declared once, in ``features.contract``; this module is the one place that
evaluates it — for the feature families, for the count of records a score ignored as
future, and for the admissibility of an as-of date. Each function is vectorised and is
called with one row by a live request and with millions by screening.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from features.context import positions_in
from features.contract import CONTRACT, KnownOn
from features.pit import MISSING_DAY, as_days

__all__ = [
    "KNOWN_ON",
    "RECORD_TABLES",
    "VALUE_KNOWN_ON",
    "KnownOn",
    "as_of_failures",
    "future_counts",
    "known_days",
    "value_known_days",
]

#: The day from which each table's rows are known (``truth`` is never a feature source).
KNOWN_ON: dict[str, KnownOn] = {t.name: t.known_on for t in CONTRACT if t.known_on is not None}

#: Values known later than their row. Date columns are known on their own date (a grant on
#: ``granted_on``); these are the other columns that arrive late.
VALUE_KNOWN_ON: dict[tuple[str, str], KnownOn] = {
    (t.name, column): rule for t in CONTRACT for column, rule in t.late_values.items()
}

#: The tables of a firm's dated records: what a score reads as of the application's date.
RECORD_TABLES = tuple(t for t in KNOWN_ON if t not in ("firms", "applications"))


def known_days(table: str, columns: Mapping[str, Any]) -> np.ndarray:
    """Int64 day on which each row of ``table`` becomes known (``MISSING_DAY`` if undated).

    ``columns`` is a frame or a mapping of column → array; a date column may also be given
    as int days already (as ``features.pit.to_days`` makes them).
    """
    return KNOWN_ON[table].days(columns)


def value_known_days(table: str, column: str, columns: Mapping[str, Any]) -> np.ndarray:
    """Int64 day on which ``column`` of each row of ``table`` becomes known."""
    return VALUE_KNOWN_ON[(table, column)].days(columns)


def future_counts(
    sources: Mapping[str, Mapping[str, Any]], credit_codes: Any, as_of: Any
) -> dict[str, np.ndarray]:
    """Per record table, per application: the firm's records known only on or after as-of.

    Those records are ignored by the features (which read strictly before as-of); the count
    lets a response or a screening report say so. ``sources`` maps tables to frames or
    column mappings; ``credit_codes`` and ``as_of`` are the applications' (one or many).
    """
    codes = np.asarray(credit_codes, dtype=object)
    if len(codes) == 1:  # one application (a live request): no sort, no search
        return _future_counts_of_one(sources, codes[0], as_days(as_of)[0])
    universe = pd.Index(pd.unique(codes))
    app_firm = universe.get_indexer(codes).astype(np.int64)
    app_day = as_days(as_of)
    counts = {}
    for table in RECORD_TABLES:
        frame = sources.get(table)
        if frame is None or len(frame[KNOWN_ON[table].column]) == 0:
            counts[table] = np.zeros(len(codes), dtype=np.int64)
            continue
        firm = _positions(frame["credit_code"], universe)
        keep = firm >= 0
        day = known_days(table, frame)[keep]
        # (firm, day) as one sortable int: days span far less than 2**40 around 1970.
        key = np.sort((firm[keep] << 41) + (day + _DAY_OFFSET))
        after = np.searchsorted(key, (app_firm + 1) << 41, side="left")
        before = np.searchsorted(key, (app_firm << 41) + (app_day + _DAY_OFFSET), side="left")
        counts[table] = (after - before).astype(np.int64)
    return counts


def _future_counts_of_one(
    sources: Mapping[str, Mapping[str, Any]], code: str, as_of: np.int64
) -> dict[str, np.ndarray]:
    counts = {}
    for table in RECORD_TABLES:
        frame = sources.get(table)
        if frame is None or len(frame[KNOWN_ON[table].column]) == 0:
            counts[table] = np.zeros(1, dtype=np.int64)
            continue
        mine = np.asarray(frame["credit_code"], dtype=object) == code
        future = np.count_nonzero(mine & (known_days(table, frame) >= as_of))
        counts[table] = np.array([future], dtype=np.int64)
    return counts


#: Shifts days (and ``MISSING_DAY``, 2**40) into a non-negative span below 2**41.
_DAY_OFFSET = np.int64(2**39)


def as_of_failures(as_of: Any, founded_on: Any, today: dt.date) -> list[str | None]:
    """Per application, the as-of rule it breaks in words, or None when it is admissible.

    An as-of date must not be after today (the caller's calendar) and must be after the firm
    was founded (a missing founding date is not checked here: the firm is then unknown).
    The first broken rule is given.
    """
    day, founded = as_days(as_of), as_days(founded_on)
    future = day > as_days([today])[0]
    unfounded = ~future & (founded != MISSING_DAY) & (day <= founded)
    texts: list[str | None] = [None] * len(day)
    for i in np.flatnonzero(future):
        texts[i] = f"must not be in the future (today is {today} in China, UTC+8)"
    for i in np.flatnonzero(unfounded):
        founded_text = np.datetime64(int(founded[i]), "D").astype(dt.date).isoformat()
        texts[i] = f"must be after firm.founded_on ({founded_text})"
    return texts


def _positions(codes: Any, universe: pd.Index) -> np.ndarray:
    """Position of each record's firm among the applications' (-1 if none applies)."""
    if len(universe) == 1:  # one firm (a live request): a comparison beats hashing
        return np.where(np.asarray(codes, dtype=object) == universe[0], 0, -1).astype(np.int64)
    if isinstance(codes, pd.Series):
        return positions_in(codes, universe)
    return universe.get_indexer(np.asarray(codes, dtype=object)).astype(np.int64)
