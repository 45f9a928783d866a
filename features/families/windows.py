"""Look-back windows of the features: declared once, named by what they span.

Most windows are a fixed number of days ``[D - days, D)``; feature names say the months
(``_24m``, ``_36m``). Records published once a year on a fixed day (tax ratings, each
30 April) need a calendar window instead: three years back from D is 1095 or 1096 days
depending on leap days, so a fixed 1096 would hold four ratings on some as-of dates (a
``tax_a_years_3y`` of 4) and a fixed 1095 only two on others.
"""

from __future__ import annotations

import numpy as np

from features.pit import add_months

#: One year back: the as-of date of a year-on-year comparison.
DAYS_12M = 365
#: Two years: recent delinquency, filings, headcount reports, money raised.
DAYS_24M = 2 * DAYS_12M
#: Three years: serious public-credit events, pledges, support, tax ratings.
DAYS_36M = 3 * DAYS_12M
#: A 高新技术企业 certificate is valid for 3 years.
HIGH_TECH_CERT_MONTHS = 36
#: Three calendar years, for yearly records published on a fixed day.
MONTHS_36 = 36


def calendar_window(as_of: np.ndarray, months: int) -> np.ndarray:
    """Per as-of day D, the window in days back to the same day ``months`` earlier."""
    return as_of - add_months(as_of, -months)
