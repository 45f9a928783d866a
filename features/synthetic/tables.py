"""Turn the generator's arrays (firm numbers, day counts) into the contract tables.

Inside the generator a firm is its row number and a date an int64 day count; here firms
become credit codes, days become datetime64 columns (missing → NaT) and each table gets
exactly the contract's columns in the contract's order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.synthetic.dates import to_datetime

#: The contract's columns of each table (DESIGN.md "Raw sources"), in order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "firms": (
        "credit_code", "name", "founded_on", "registered_capital", "industry", "district",
        "is_high_tech", "high_tech_cert_on", "is_tech_sme", "is_specialized",
        "is_little_giant", "is_listed",
    ),
    "ip_assets": (
        "credit_code", "ip_id", "ip_type", "filed_on", "granted_on", "lapsed_on", "claims",
        "forward_citations", "acquired", "pledged_on",
    ),
    "financials": (
        "credit_code", "fiscal_year", "revenue", "rd_expense", "high_tech_revenue",
        "cost_total", "net_profit", "total_assets", "total_liabilities", "current_assets",
        "current_liabilities", "operating_cash_flow",
    ),
    "staffing": (
        "credit_code", "month", "employees", "rd_staff", "tech_staff", "college_educated",
        "social_insured",
    ),
    "credit_events": ("credit_code", "event_on", "kind", "amount", "days_past_due"),
    "tax_ratings": ("credit_code", "year", "rating"),
    "financing_rounds": ("credit_code", "closed_on", "round", "amount", "lead_investor_tier"),
    "support_records": ("credit_code", "event_on", "kind", "amount"),
    "applications": (
        "loan_id", "credit_code", "product", "applied_on", "amount", "term_months",
        "guarantee", "default_12m",
    ),
    "truth": ("loan_id", "true_pd"),
}
DATE_COLUMNS = frozenset(
    {"founded_on", "high_tech_cert_on", "filed_on", "granted_on", "lapsed_on", "pledged_on",
     "month", "event_on", "closed_on", "applied_on"}
)


def to_table(name: str, rows: dict[str, np.ndarray], codes: np.ndarray) -> pd.DataFrame:
    """The contract table ``name`` from generator rows (``firm`` numbers → credit codes).

    Rows are sorted by firm and their first date (or year) so that tables read naturally and
    are byte-identical for a seed.
    """
    data: dict[str, np.ndarray] = {}
    for column in COLUMNS[name]:
        if column == "credit_code":
            data[column] = codes[rows["firm"]]
        elif column in DATE_COLUMNS:
            data[column] = to_datetime(rows[column])
        else:
            data[column] = rows[column]
    frame = pd.DataFrame(data)
    if name not in ("firms", "applications", "truth"):
        order = np.lexsort((_sort_key(name, rows), rows["firm"]))
        frame = frame.take(order).reset_index(drop=True)
    return frame


def _sort_key(name: str, rows: dict[str, np.ndarray]) -> np.ndarray:
    for column in ("fiscal_year", "year", "month", "event_on", "closed_on", "filed_on"):
        if column in rows:
            return rows[column]
    raise KeyError(f"table {name!r} has no date column to sort by")
