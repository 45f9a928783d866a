"""Score requests made from contract tables: the shipped example and the equivalence tests.

:func:`request_from_frames` cuts one firm's rows out of the contract tables (DataFrames, as
the loaders and the synthetic market give them) and writes them as the JSON body a bank
would post, so the same firm can be scored through the DataFrame path and the request path
and the two compared.

Run ``python -m serving.examples examples/score_request.json`` to write the example request.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.loaders import load_sources
from serving.schemas import CHILD_TABLES
from synthetic import generate_market

#: Firms in the market generated when no tables are given (small: it takes a second).
EXAMPLE_MARKET_FIRMS = 300
#: Fields of the request's application and the ``applications`` columns they come from.
_APPLICATION = {
    "loan_id": "loan_id",
    "product": "product",
    "as_of": "applied_on",
    "amount": "amount",
    "term_months": "term_months",
    "guarantee": "guarantee",
}


def request_from_frames(
    sources: Mapping[str, pd.DataFrame], application_row: Mapping[str, Any] | pd.Series
) -> dict[str, Any]:
    """The JSON-ready score request for one application row of the ``applications`` table.

    Takes every record of the applicant firm, including those dated after the application
    (the service ignores them by the point-in-time rule, as the batch path does). Child
    records leave out ``credit_code``, which defaults to the firm's; nulls are kept as None.
    """
    code = application_row["credit_code"]
    firms = _rows_of(sources["firms"], code)
    if len(firms) != 1:
        raise ValueError(f"table 'firms' has {len(firms)} rows for credit code {code!r}; need 1")
    children = {
        table: [_without_code(r) for r in _rows_of(sources.get(table), code)]
        for table in CHILD_TABLES
    }
    application = {field: _plain(application_row[column]) for field, column in _APPLICATION.items()}
    return {"firm": firms[0], "application": application, **children}


def write_example_request(
    path: str | Path,
    market: str | Path | Mapping[str, pd.DataFrame] | None = None,
    seed: int = 0,
) -> Path:
    """Write one firm's score request as indented UTF-8 JSON (for the README's curl example).

    ``market`` is a directory of contract tables, the tables themselves, or None for a small
    synthetic market drawn with ``seed``. The application is drawn with ``seed`` (see
    :func:`_example_application`).
    """
    if market is None:
        tables = generate_market(n_firms=EXAMPLE_MARKET_FIRMS, seed=seed)
    elif isinstance(market, Mapping):
        tables = market
    else:
        tables = load_sources(market)
    row = _example_application(tables, np.random.default_rng(seed))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(request_from_frames(tables, row), ensure_ascii=False, indent=2)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _example_application(tables: Mapping[str, pd.DataFrame], rng: np.random.Generator) -> pd.Series:
    """A recent application of a firm with records in every table: the example then shows
    each table's shape, and few of its records postdate the as-of date."""
    apps = tables["applications"]
    full = np.ones(len(apps), dtype=bool)
    for table in CHILD_TABLES:
        full &= apps["credit_code"].isin(tables[table]["credit_code"]).to_numpy()
    candidates = apps[full] if full.any() else apps
    recent = candidates[candidates["applied_on"] >= candidates["applied_on"].quantile(0.75)]
    return recent.iloc[rng.integers(len(recent))]


def _rows_of(frame: pd.DataFrame | None, code: str) -> list[dict[str, Any]]:
    if frame is None or frame.empty:
        return []
    mine = frame[frame["credit_code"].to_numpy() == code]
    return [{k: _plain(v) for k, v in row.items()} for row in mine.to_dict("records")]


def _without_code(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "credit_code"}


def _plain(value: Any) -> Any:
    """A JSON value: ISO dates, None for NaN/NaT, whole floats as ints (counts read 12, not
    12.0), numpy scalars as Python ones."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, dt.date):  # pd.Timestamp and datetime are dates too
        return value.date().isoformat() if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return int(value) if value.is_integer() else value
    return value


def main(argv: list[str] | None = None) -> None:
    """Write the example request: ``python -m serving.examples PATH [--market DIR] [--seed N]``."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--market", type=Path, help="directory of contract tables")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(write_example_request(args.path, args.market, args.seed))


if __name__ == "__main__":
    main()
