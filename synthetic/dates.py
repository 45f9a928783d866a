"""Day arithmetic of the generator: every date is an int64 day count since 1970-01-01.

Integers keep the generator vectorised and match ``features.pit`` (which answers as-of
questions on the same day counts); dates become pandas datetimes only when tables are built.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

from features.pit import MISSING_DAY
from features.schemas import DATE_DTYPE
from synthetic import calibration as cal

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = 30.4375


def day(iso: str) -> int:
    """The day count of an ISO date."""
    return int(np.datetime64(iso, "D").astype(np.int64))


#: The end of the base market's window: firms' ages are drawn as of this day, so an extended
#: market holds the same firms (and new entrants founded after it).
BASE_END = day(cal.WINDOW_END)
APPLICATIONS_FROM = day(cal.APPLICATIONS_FROM)
#: Years with a latent health value in the base market (columns of its health arrays).
BASE_YEARS = np.arange(cal.FIRST_RECORD_YEAR, cal.LAST_YEAR + 1)

#: The day the world is observed: nothing dated after it is in any table. A context variable
#: rather than an argument threaded through every step, so that ``observed_until`` can move
#: it for one generation without changing the base market's code path.
_WINDOW_END: ContextVar[int] = ContextVar("window_end", default=BASE_END)


@contextmanager
def observed_until(end: int) -> Iterator[None]:
    """Generate a world observed on day ``end`` (at least the base window end)."""
    token = _WINDOW_END.set(max(int(end), BASE_END))
    try:
        yield
    finally:
        _WINDOW_END.reset(token)


def window_end() -> int:
    """The last day any table knows of."""
    return _WINDOW_END.get()


def years() -> np.ndarray:
    """Years with a latent health value: FIRST_RECORD_YEAR … the window end's year."""
    return np.arange(cal.FIRST_RECORD_YEAR, int(year_of(np.array(window_end()))) + 1)


def last_fiscal_year() -> int:
    """The last fiscal year filed by the window end (the year before the window end's)."""
    return int(year_of(np.array(window_end()))) - 1


def year_start(year: np.ndarray | int) -> np.ndarray:
    """Day of 1 January of each year."""
    y = np.asarray(year, dtype=np.int64)
    return (y - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)


def year_of(days: np.ndarray) -> np.ndarray:
    """Calendar year of each day."""
    return np.asarray(days).astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def month_index(days: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of each day."""
    return np.asarray(days).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def month_start(months: np.ndarray) -> np.ndarray:
    """Day of the first of each month given as months since 1970-01."""
    return (
        np.asarray(months, dtype=np.int64)
        .astype("datetime64[M]")
        .astype("datetime64[D]")
        .astype(np.int64)
    )


def uniform_between(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A uniformly random day in [lo, hi] for each pair (hi < lo yields lo)."""
    span = np.maximum(np.asarray(hi) - np.asarray(lo), 0)
    return np.asarray(lo) + np.floor(rng.random(np.shape(span)) * (span + 1)).astype(np.int64)


def within_window(days: np.ndarray) -> np.ndarray:
    """Days after the window end are unknown to every table: MISSING_DAY."""
    return np.where(days <= window_end(), days, MISSING_DAY)


def to_datetime(days: np.ndarray) -> np.ndarray:
    """Day counts as the contract's datetime dtype; MISSING_DAY becomes NaT."""
    days = np.asarray(days, dtype=np.int64)
    missing = days == MISSING_DAY
    out = np.where(missing, 0, days).astype("datetime64[D]").astype(DATE_DTYPE)
    out[missing] = np.datetime64("NaT")
    return out
