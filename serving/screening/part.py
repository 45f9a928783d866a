"""Screen one part (a set of whole firms): validate → features → score → reasons → write.

This is the unit of work of both engines: the single process runs the parts one after
another, Dask runs them on workers. It calls the same functions as the live service
(``features.build.build_feature_matrix`` and the scoring kernel ``models.kernel.score``), so a
firm screened in a batch gets the score and the reasons the service would give it.

A part is done when its files are renamed into place; the rename is the commit that lets an
interrupted run resume without redoing or duplicating a part.

What happens to each row:

- a source row that breaks the contract is written to the errors file, and the applications of
  its firm are rejected (a firm is not scored on a partial record, which could flatter it);
- an application that breaks the contract, names an unknown firm or is dated in the future or
  before its firm was founded is rejected with the reason;
- every other application is scored; source rows known only on or after its as-of date are
  ignored by the point-in-time rule and counted.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.build import build_feature_matrix
from features.errors import Failure
from features.loaders import empty_table, split_valid
from features.schemas import DATE_DTYPE, SOURCE_TABLES
from features.timing import RECORD_TABLES, as_of_failures, future_counts, known_days
from models import kernel
from models.pd_model import PDModel
from serving.screening.partition import OPTIONAL, ROW, read_part
from serving.screening.portfolio import PortfolioParams, aggregate
from serving.screening.stress import Shock, shock_records

#: Reasons written per screened application (the service returns up to five).
TOP_REASONS = 3
RESULTS_FILE = "results.parquet"
ERRORS_FILE = "errors.parquet"
CELLS_FILE = "cells.parquet"
STRESS_FILE = "stress.parquet"
MIGRATION_FILE = "migration.parquet"
STRESSED_FILE = "stressed.parquet"
COUNTS_FILE = "counts.json"

ERROR_SCHEMA = pa.schema(
    [
        ("table", pa.string()),
        ("row", pa.int64()),
        ("credit_code", pa.string()),
        ("loan_id", pa.string()),
        ("column", pa.string()),
        ("value", pa.string()),
        ("rule", pa.string()),
    ]
)
ERROR_COLUMNS = ERROR_SCHEMA.names
#: Per exposed application and shocked-records scenario: its re-scored answer.
STRESSED_SCHEMA = pa.schema(
    [
        ("scenario", pa.string()),
        ("loan_id", pa.string()),
        ("pd", pa.float64()),
        ("grade", pa.int64()),
        ("decision", pa.string()),
    ]
)
#: One schema for every part, so parts concatenate whatever a part happens to hold.
RESULT_SCHEMA = pa.schema(
    [
        ("loan_id", pa.string()),
        ("credit_code", pa.string()),
        ("product", pa.string()),
        ("applied_on", pa.timestamp("us")),
        ("amount", pa.float64()),
        ("guarantee", pa.string()),
        ("industry", pa.string()),
        ("district", pa.string()),
        ("ignored_future_records", pa.int64()),
        ("pd", pa.float64()),
        ("score", pa.float64()),
        ("grade", pa.int64()),
        ("decision", pa.string()),
        ("peer_percentile", pa.float64()),
        *(
            field
            for k in range(1, TOP_REASONS + 1)
            for field in (
                (f"reason_{k}_family", pa.string()),
                (f"reason_{k}_points", pa.float64()),
                (f"reason_{k}_zh", pa.string()),
                (f"reason_{k}_en", pa.string()),
            )
        ),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
    ]
)


@dataclass(frozen=True)
class ModelRef:
    """The model's identity, written on every result row."""

    name: str
    version: str


def is_done(part_dir: Path) -> bool:
    return (part_dir / "done" / COUNTS_FILE).exists()


def screen_part(
    part_dir: Path,
    model: PDModel,
    ref: ModelRef,
    params: PortfolioParams,
    today: dt.date,
    threads: int = 0,
) -> dict[str, int]:
    """Screen the part in ``part_dir`` and commit its outputs to ``part_dir/done``.

    Returns the part's counts. Idempotent: a part already done is read back, not redone.
    ``threads`` is LightGBM's share of the cores (0: all of them).
    """
    done = part_dir / "done"
    if is_done(part_dir):
        return json.loads((done / COUNTS_FILE).read_text())
    tables = read_part(part_dir)
    results, errors, counts = screen_frames(tables, model, ref, today, threads)
    shocked = {
        shock.name: rescore_shocked(tables, shock, model, today, threads) for shock in params.shocks
    }
    cells, stress, migration = aggregate(results, model, params, shocked)
    stressed = pd.concat(
        [frame.assign(scenario=name) for name, frame in shocked.items()]
        or [pd.DataFrame(columns=STRESSED_SCHEMA.names)]
    )
    staging = part_dir / "staging"
    staging.mkdir(exist_ok=True)
    _write(results, RESULT_SCHEMA, staging / RESULTS_FILE)
    _write(errors, ERROR_SCHEMA, staging / ERRORS_FILE)
    _write(stressed[STRESSED_SCHEMA.names], STRESSED_SCHEMA, staging / STRESSED_FILE)
    cells.to_parquet(staging / CELLS_FILE, index=False)
    stress.to_parquet(staging / STRESS_FILE, index=False)
    migration.to_parquet(staging / MIGRATION_FILE, index=False)
    (staging / COUNTS_FILE).write_text(json.dumps(counts))
    os.replace(staging, done)
    return counts


def screen_frames(
    tables: Mapping[str, pd.DataFrame],
    model: PDModel,
    ref: ModelRef,
    today: dt.date,
    threads: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """(results, errors, counts) of the raw tables of some whole firms (with ``_row``)."""
    sources, apps, errors, counts = _validated(tables, today)
    results = _score(sources, apps, model, ref, threads)
    counts.update(_record_fate(sources, apps))
    return results, pd.DataFrame(errors, columns=list(ERROR_COLUMNS)), counts


def _validated(
    tables: Mapping[str, pd.DataFrame], today: dt.date
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, list[dict[str, Any]], dict[str, int]]:
    """(valid source tables, admissible applications, errors, counts) of a part's raw tables."""
    errors: list[dict[str, Any]] = []
    valid: dict[str, pd.DataFrame] = {}
    broken: dict[str, str] = {}  # credit code → why its applications are rejected
    counts: dict[str, int] = {}
    for name in SOURCE_TABLES:
        raw = tables.get(name)
        if raw is None:
            valid[name] = empty_table(name)
            continue
        rows = raw[ROW].to_numpy()
        frame = raw.drop(columns=ROW)
        for column in OPTIONAL.get(name, ()):
            if column not in frame.columns:
                frame[column] = np.nan
        good, failures = split_valid(name, frame)
        counts[f"{name}_read"] = len(frame)
        counts[f"{name}_invalid"] = len({f.row for f in failures})
        for f in failures:
            error = _error(name, int(rows[f.row]), frame, f)
            errors.append(error)
            if name != "applications" and error["credit_code"] is not None:
                broken.setdefault(
                    error["credit_code"], f"{name} row {error['row']}: {f.column} {f.rule}"
                )
        good.index = rows[good.index.to_numpy()]
        valid[name] = good
    apps, app_errors = _admissible(valid["applications"], valid["firms"], broken, today)
    errors += app_errors
    counts["applications_rejected"] = counts.get("applications_invalid", 0) + len(app_errors)
    counts["applications_scored"] = len(apps)
    sources = {name: valid[name] for name in SOURCE_TABLES if name != "applications"}
    return sources, apps, errors, counts


def rescore_shocked(
    tables: Mapping[str, pd.DataFrame],
    shock: Shock,
    model: PDModel,
    today: dt.date,
    threads: int = 0,
) -> pd.DataFrame:
    """The exposed applications re-screened on their shocked records (same path as the base).

    The same contract checks, feature build and kernel as the base run, but numbers only: the
    stress reads PD, grade and decision, so no reason is worded and no record counted.
    """
    shocked = shock_records(tables, shock)
    sources, apps, _, _ = _validated(shocked, today) if shocked is not None else ({}, None, [], {})
    if apps is None or len(apps) == 0:
        return pd.DataFrame(
            {
                "loan_id": pd.Series(dtype=object),
                "pd": pd.Series(dtype=np.float64),
                "grade": pd.Series(dtype=np.int64),
                "decision": pd.Series(dtype=object),
            }
        )
    X = build_feature_matrix(sources, apps)
    products = apps["product"].to_numpy(dtype=object)
    scored = kernel.score(model, X, products, top=0, threads=threads)
    return pd.DataFrame(
        {
            "loan_id": apps["loan_id"].to_numpy(dtype=object),
            "pd": scored.pd,
            "grade": scored.grade,
            "decision": scored.decision.astype(object),
        }
    )


def _admissible(
    apps: pd.DataFrame, firms: pd.DataFrame, broken: Mapping[str, str], today: dt.date
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Applications that can be scored, and an error for each that cannot (with why)."""
    founded = apps["credit_code"].map(firms.set_index("credit_code")["founded_on"])
    broken_record = apps["credit_code"].map(broken).astype(object)
    as_of_rule = pd.Series(
        as_of_failures(apps["applied_on"].to_numpy(), founded.to_numpy(), today),
        index=apps.index,
        dtype=object,
    )
    checks = (  # (failing rows, column, rule), first failing rule wins
        (
            broken_record.notna(),
            "credit_code",
            "firm has an invalid record: " + broken_record.fillna("").astype(str),
        ),
        (founded.isna(), "credit_code", "firm not found in table 'firms'"),
        (as_of_rule.notna(), "applied_on", as_of_rule),
    )
    rule = pd.Series("", index=apps.index, dtype=object)
    column = pd.Series("", index=apps.index, dtype=object)
    for failing, col, text in checks:
        hit = failing.to_numpy(dtype=bool) & (rule == "").to_numpy()
        rule[hit] = text[hit] if isinstance(text, pd.Series) else text
        column[hit] = col
    bad = (rule != "").to_numpy()
    errors = [
        {
            "table": "applications",
            "row": int(row),
            "credit_code": code,
            "loan_id": loan,
            "column": col,
            "value": code if col == "credit_code" else str(pd.Timestamp(day).date()),
            "rule": why,
        }
        for row, code, loan, day, col, why in zip(
            apps.index[bad],
            apps["credit_code"][bad],
            apps["loan_id"][bad],
            apps["applied_on"][bad],
            column[bad],
            rule[bad],
            strict=True,
        )
    ]
    return apps[~bad], errors


def _score(
    sources: Mapping[str, pd.DataFrame],
    apps: pd.DataFrame,
    model: PDModel,
    ref: ModelRef,
    threads: int,
) -> pd.DataFrame:
    """One row per application: the service's numbers and its first reasons, in columns."""
    firms = sources["firms"].set_index("credit_code")
    out = pd.DataFrame(
        {
            "loan_id": apps["loan_id"].to_numpy(dtype=object),
            "credit_code": apps["credit_code"].to_numpy(dtype=object),
            "product": apps["product"].to_numpy(dtype=object),
            "applied_on": apps["applied_on"].to_numpy(),
            "amount": apps["amount"].to_numpy(dtype=np.float64),
            "guarantee": apps["guarantee"].to_numpy(dtype=object),
            "industry": apps["credit_code"].map(firms["industry"]).to_numpy(dtype=object),
            "district": apps["credit_code"].map(firms["district"]).to_numpy(dtype=object),
        }
    )
    out["ignored_future_records"] = _future_counts(sources, apps)
    if len(apps) == 0:
        return _with_score_columns(out, ref)
    X = build_feature_matrix(sources, apps)
    scored = kernel.score(model, X, out["product"].to_numpy(), top=0, threads=threads)
    out["pd"] = scored.pd
    out["score"] = scored.score
    out["grade"] = scored.grade
    out["decision"] = scored.decision.astype(object)
    out["peer_percentile"] = np.nan if scored.percentile is None else scored.percentile
    for k, column in enumerate(kernel.risk_columns(model, X, scored, TOP_REASONS), start=1):
        out[f"reason_{k}_family"] = column.family
        out[f"reason_{k}_points"] = column.points
        out[f"reason_{k}_zh"] = column.zh
        out[f"reason_{k}_en"] = column.en
    out["model_name"] = ref.name
    out["model_version"] = ref.version
    return out


def _with_score_columns(out: pd.DataFrame, ref: ModelRef) -> pd.DataFrame:
    """An empty result with every column, so parts concatenate and files have one schema."""
    for column, dtype in (
        ("pd", np.float64),
        ("score", np.float64),
        ("grade", np.int64),
        ("decision", object),
        ("peer_percentile", np.float64),
    ):
        out[column] = pd.Series(dtype=dtype)
    for k in range(1, TOP_REASONS + 1):
        out[f"reason_{k}_family"] = pd.Series(dtype=object)
        out[f"reason_{k}_points"] = pd.Series(dtype=np.float64)
        out[f"reason_{k}_zh"] = pd.Series(dtype=object)
        out[f"reason_{k}_en"] = pd.Series(dtype=object)
    out["model_name"] = pd.Series(dtype=object)
    out["model_version"] = pd.Series(dtype=object)
    return out


def _future_counts(sources: Mapping[str, pd.DataFrame], apps: pd.DataFrame) -> np.ndarray:
    """Per application, the firm's records known only on or after its as-of date."""
    counts = future_counts(sources, apps["credit_code"].to_numpy(), apps["applied_on"].to_numpy())
    return np.sum(list(counts.values()), axis=0, dtype=np.int64).reshape(len(apps))


def _record_fate(sources: Mapping[str, pd.DataFrame], apps: pd.DataFrame) -> dict[str, int]:
    """How many valid source rows fed a score, were ignored as future, or had no application.

    A row counts as ignored-as-future when it is known only on or after the as-of date of
    every scored application of its firm (a row that fed at least one score is used).
    """
    last = apps.groupby("credit_code")["applied_on"].max()
    fate = {"records_used": 0, "records_future": 0, "records_without_application": 0}
    for name in RECORD_TABLES:
        frame = sources[name]
        if len(frame) == 0:
            continue
        latest = frame["credit_code"].map(last).to_numpy(dtype=DATE_DTYPE).astype("datetime64[D]")
        without = np.isnat(latest)
        latest = latest.astype(np.int64)
        future = ~without & (known_days(name, frame) >= latest)
        fate["records_without_application"] += int(without.sum())
        fate["records_future"] += int(future.sum())
        fate["records_used"] += int((~without & ~future).sum())
    return fate


def _error(table: str, row: int, frame: pd.DataFrame, failure: Failure) -> dict[str, Any]:
    """One errors-file row for a row-level failure (``split_valid`` raises on table-level)."""
    code = frame["credit_code"].iloc[failure.row]
    loan = frame["loan_id"].iloc[failure.row] if "loan_id" in frame.columns else None
    value = failure.value
    return {
        "table": table,
        "row": row,
        "credit_code": None if pd.isna(code) else str(code),
        "loan_id": None if loan is None or pd.isna(loan) else str(loan),
        "column": failure.column,
        "value": None
        if value is None or (not isinstance(value, tuple) and pd.isna(value))
        else str(value),
        "rule": failure.rule,
    }


def _write(frame: pd.DataFrame, schema: pa.Schema, path: Path) -> None:
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), path)
