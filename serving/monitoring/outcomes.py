"""``techrisk outcomes``: realised defaults by loan id, read from a file into the audit store.

A file is CSV or Parquet with ``loan_id`` and ``default_12m`` (0/1, true/false). A loan whose
outcome is still empty has not matured (its 12 months are not over) and is counted as
pending, not loaded; any other value is refused with its row, value and rule, and nothing is
loaded from a file that has one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from serving.audit import AuditStore
from techrisk_base.errors import TechriskError

COLUMNS = ("loan_id", "default_12m")
_TRUE = {"1", "1.0", "true", "t", "yes", "y"}
_FALSE = {"0", "0.0", "false", "f", "no", "n"}
#: Refused rows named in the error message; the count says how many more there are.
SHOWN = 5


class OutcomeFileError(TechriskError):
    """The outcome file cannot be loaded: a missing column or a value breaking its rule."""


@dataclass(frozen=True)
class Loaded:
    loaded: int
    defaults: int
    pending: int


def read_outcomes(path: Path) -> tuple[list[dict[str, object]], int]:
    """The rows to store and the number of loans still pending."""
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path)
    elif path.suffix.lower() == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    else:
        raise OutcomeFileError(f"outcome file {path} must be .csv or .parquet")
    absent = [c for c in COLUMNS if c not in frame.columns]
    if absent:
        raise OutcomeFileError(f"outcome file {path} lacks column(s) {absent}; needs {COLUMNS}")
    now = dt.datetime.now(dt.UTC)
    rows: list[dict[str, object]] = []
    refused: list[str] = []
    pending = 0
    seen: set[str] = set()
    for i, (loan, raw) in enumerate(zip(frame["loan_id"], frame["default_12m"], strict=True)):
        loan_id = "" if pd.isna(loan) else str(loan).strip()
        text = "" if raw is None or (isinstance(raw, float) and pd.isna(raw)) else str(raw)
        text = text.strip().lower()
        if not loan_id:
            refused.append(f"row {i + 2}: loan_id {loan!r} must not be empty")
        elif loan_id in seen:
            refused.append(f"row {i + 2}: loan_id {loan_id!r} appears twice in the file")
        elif text in ("", "nan", "none", "<na>"):
            pending += 1
        elif text in _TRUE or text in _FALSE:
            rows.append(
                {
                    "loan_id": loan_id,
                    "default_12m": text in _TRUE,
                    "loaded_at": now,
                    "source": path.name,
                }
            )
        else:
            refused.append(
                f"row {i + 2}: default_12m {raw!r} of loan {loan_id} must be 0/1 or true/false"
            )
        seen.add(loan_id)
    if refused:
        more = f" and {len(refused) - SHOWN} more" if len(refused) > SHOWN else ""
        raise OutcomeFileError(
            f"outcome file {path}: nothing loaded; " + "; ".join(refused[:SHOWN]) + more
        )
    return rows, pending


def load_outcomes(path: Path, store: AuditStore) -> Loaded:
    rows, pending = read_outcomes(path)
    store.create_schema()
    store.record_outcomes(rows)
    return Loaded(len(rows), sum(bool(r["default_12m"]) for r in rows), pending)
