"""When each raw fact becomes known: the point-in-time rule of every table, in one place.

A row may only feed a feature as of D when the day it became known is strictly before D.
Most tables carry that day directly (``event_on``, ``filed_on``…); for period records the
day is derived here, because a fiscal year or a tax year is not known when it ends.
"""

from __future__ import annotations

import numpy as np

from features.pit import MISSING_DAY

#: Annual reports are filed within 5 months of the year end (by 31 May of the next year).
FINANCIALS_FILED_MONTHS = 5
#: Annual tax credit ratings (纳税信用等级) are published by the end of April of the next year.
TAX_RATING_PUBLISHED_MONTHS = 4
#: ``forward_citations`` counts citations within 3 years after grant: known only then.
CITATION_WINDOW_MONTHS = 36
#: A 高新技术企业 certificate is valid for 3 years.
HIGH_TECH_CERT_MONTHS = 36


def _year_start(year: np.ndarray) -> np.ndarray:
    return (np.asarray(year, dtype=np.int64) - 1970).astype("datetime64[Y]")


def _missing_to_sentinel(year: np.ndarray, days: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(np.asarray(year, dtype=np.float64)), MISSING_DAY, days)


def financials_known_day(fiscal_year: np.ndarray) -> np.ndarray:
    """Last day of the filing window: fiscal year Y is known from Y+1-05-31."""
    fy = np.nan_to_num(np.asarray(fiscal_year, dtype=np.float64)).astype(np.int64)
    end = _year_start(fy + 1).astype("datetime64[M]") + np.timedelta64(FINANCIALS_FILED_MONTHS, "M")
    days = end.astype("datetime64[D]").astype(np.int64) - 1
    return _missing_to_sentinel(fiscal_year, days)


def tax_rating_known_day(year: np.ndarray) -> np.ndarray:
    """Tax year Y's rating is known from Y+1-04-30."""
    y = np.nan_to_num(np.asarray(year, dtype=np.float64)).astype(np.int64)
    end = _year_start(y + 1).astype("datetime64[M]") + np.timedelta64(
        TAX_RATING_PUBLISHED_MONTHS, "M"
    )
    days = end.astype("datetime64[D]").astype(np.int64) - 1
    return _missing_to_sentinel(year, days)


def staffing_known_day(month_day: np.ndarray) -> np.ndarray:
    """A month's headcount is known once the month is over (first day of the next month)."""
    month = month_day.astype("datetime64[D]").astype("datetime64[M]")
    days = (month + np.timedelta64(1, "M")).astype("datetime64[D]").astype(np.int64)
    return np.where(month_day == MISSING_DAY, MISSING_DAY, days)
