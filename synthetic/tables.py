"""Turn the generator's arrays (firm numbers, day counts) into the contract tables.

Inside the generator a firm is its row number and a date an int64 day count; here firms
become credit codes and each column gets the dtype of the contract (``features.schemas``:
dates at DATE_DTYPE with NaT for missing, missing-allowed integers as float64), with exactly
the contract's columns in the contract's order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.schemas import TABLES as SCHEMAS
from synthetic.dates import to_datetime

#: Columns by which each record table is sorted within a firm (tables read naturally).
_SORT_BY = {
    "ip_assets": "filed_on",
    "financials": "fiscal_year",
    "staffing": "month",
    "credit_events": "event_on",
    "tax_ratings": "year",
    "financing_rounds": "closed_on",
    "support_records": "event_on",
}

#: Record numbers the generator makes up, as a credit report numbers its records: the firm's
#: credit code and the record's place in date order (an extended market keeps the base's).
_NUMBERED = {"credit_events": "record_id"}


def to_table(name: str, rows: dict[str, np.ndarray], codes: np.ndarray) -> pd.DataFrame:
    """The contract table ``name`` from generator rows (``firm`` numbers → credit codes)."""
    data: dict[str, np.ndarray] = {}
    numbered = _NUMBERED.get(name)
    for column, spec in SCHEMAS[name].columns.items():
        kind = spec.dtype.type.kind
        if column == numbered:
            data[column] = np.full(len(rows["firm"]), None, dtype=object)  # filled below
        elif column == "credit_code":
            data[column] = codes[rows["firm"]]
        elif kind == "M":
            data[column] = to_datetime(rows[column])
        elif kind == "f":
            data[column] = rows[column].astype(np.float64)
        else:
            data[column] = rows[column]
    frame = pd.DataFrame(data)
    if name in _SORT_BY:
        order = np.lexsort((rows[_SORT_BY[name]], rows["firm"]))
        frame = frame.take(order).reset_index(drop=True)
    if numbered:
        sequence = frame.groupby("credit_code", sort=False).cumcount() + 1
        frame[numbered] = frame["credit_code"] + "-" + sequence.astype(str).str.zfill(5)
    return frame
