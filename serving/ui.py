"""The loan officer's page, mounted on the service at ``/ui`` (``@bentoml.asgi_app``).

The page itself is static (``serving/ui_static/``: hand-written HTML, CSS and JavaScript, no
framework and no CDN, so it works on a bank's offline network; see README "The loan
officer's page"). Everything it shows is computed by the server: it scores through the
service's own ``/score``, ``/whatif`` and ``/counterfactuals`` endpoints, and this app adds
the helpers a browser cannot do alone:

- ``GET /ui/api/samples`` and ``/ui/api/samples/{credit_code}``: sample firms of a small
  synthetic market (drawn once, seed fixed) as score requests, searchable by name or code;
- ``POST /ui/api/tables``: the contract tables a bank exports (CSV, Parquet or Excel, one
  file per table, named after it) turned into one firm's score request, every bad row named;
- ``POST /ui/api/batch``: up to :data:`MAX_BATCH_APPLICATIONS` applications with their
  tables, screened exactly as ``techrisk screen`` does, with its portfolio summary;
- ``GET /ui/api/history/{credit_code}``: the firm's past decisions from the audit store.

Errors have the service's shape: ``{"error", "errors": [{"field", "value", "rule"}]}``.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import bentoml
import numpy as np
import pandas as pd
from fastapi import FastAPI, File, Form, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from features.credit_code import InvalidCreditCode, validate
from features.errors import SchemaError
from features.loaders import read_table, split_valid
from features.schemas import SOURCE_TABLES
from features.synthetic import generate_market
from serving.examples import request_from_frames
from serving.schemas import china_today
from serving.screening.part import ModelRef, screen_frames
from serving.screening.partition import ROW
from serving.screening.portfolio import PortfolioParams, aggregate, report

STATIC = Path(__file__).with_name("ui_static")
#: The sample market: small enough to draw in about a second at the first request.
SAMPLE_FIRMS = 300
SAMPLE_SEED = 11
#: Applications one batch upload may carry (the page is for a desk, not a fund's book).
MAX_BATCH_APPLICATIONS = 5_000
HISTORY_LIMIT = 50
UPLOAD_SUFFIXES = (".csv", ".parquet", ".xlsx")

ui_app = FastAPI(title="techrisk loan officer's page", docs_url=None, redoc_url=None)
ui_app.mount("/static", StaticFiles(directory=STATIC), name="static")


class UploadError(ValueError):
    """A bad upload; ``errors`` are in the service's ``{field, value, rule}`` shape."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{e['field']} {e['rule']}" for e in errors))
        self.errors = errors


def _invalid(errors: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"error": "invalid request", "errors": errors}, status_code=422)


@ui_app.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


# -- sample firms ----------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _samples() -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """(directory, requests by credit code): each sample firm's newest application."""
    market = generate_market(n_firms=SAMPLE_FIRMS, seed=SAMPLE_SEED)
    apps = (
        market["applications"]
        .sort_values(["applied_on", "loan_id"])
        .drop_duplicates("credit_code", keep="last")
        .sort_values("credit_code")
    )
    requests = {row.credit_code: request_from_frames(market, row) for row in _rows(apps)}
    directory = [
        {
            "credit_code": code,
            "name": body["firm"]["name"],
            "industry": body["firm"]["industry"],
            "as_of": body["application"]["as_of"],
            "product": body["application"]["product"],
        }
        for code, body in requests.items()
    ]
    return directory, requests


def _rows(frame: pd.DataFrame) -> list[pd.Series]:
    return [row for _, row in frame.iterrows()]


@ui_app.get("/api/samples")
def samples(q: str = "", limit: int = 20) -> list[dict[str, Any]]:
    """Sample firms whose name or credit code contains ``q`` (case-insensitive)."""
    directory, _ = _samples()
    needle = q.strip().lower()
    hits = [s for s in directory if needle in s["name"].lower() or needle in s["credit_code"]]
    return hits[: max(1, min(limit, 100))]


@ui_app.get("/api/samples/{credit_code}", response_model=None)
def sample(credit_code: str) -> dict[str, Any] | JSONResponse:
    _, requests = _samples()
    if credit_code not in requests:
        return _invalid(
            [{"field": "credit_code", "value": credit_code, "rule": "is not a sample firm"}]
        )
    return requests[credit_code]


# -- history ---------------------------------------------------------------------------------
@ui_app.get("/api/history/{credit_code}", response_model=None)
def history(credit_code: str) -> dict[str, Any] | JSONResponse:
    """The firm's decisions, newest first, with the model version and reasons of each."""
    try:
        validate(credit_code)
    except InvalidCreditCode as exc:
        rule = str(exc).removeprefix(f"credit code {credit_code!r}: ")
        return _invalid([{"field": "credit_code", "value": credit_code, "rule": rule}])
    audit = bentoml.get_current_service().scorer.audit
    records = [] if audit is None else audit.list(limit=HISTORY_LIMIT, credit_code=credit_code)
    return {
        "credit_code": credit_code,
        "decisions": [
            {
                "request_id": r.request_id,
                "created_at": r.created_at.isoformat(timespec="seconds"),
                "channel": r.channel,
                "product": r.product,
                "as_of": r.as_of.isoformat(),
                "model": f"{r.model_name} v{r.model_version}",
                "pd": r.pd,
                "score": r.score,
                "grade": r.grade,
                "decision": r.decision,
                "reasons": [
                    {"zh": x["zh"], "en": x["en"], "direction": x["direction"]}
                    for x in r.reasons[:3]
                ],
            }
            for r in records
        ],
    }


# -- uploads ---------------------------------------------------------------------------------
async def _read_uploads(files: list[UploadFile]) -> dict[str, pd.DataFrame]:
    """Each file as the contract table its name says (``financials.xlsx`` → financials)."""
    tables: dict[str, pd.DataFrame] = {}
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        for upload in files:
            name = Path(upload.filename or "").name
            path = Path(tmp) / name
            table, suffix = path.stem, path.suffix.lower()
            if table not in SOURCE_TABLES or suffix not in UPLOAD_SUFFIXES:
                errors.append(
                    {
                        "field": "files",
                        "value": name,
                        "rule": "must be named <table>.csv|.parquet|.xlsx with <table> one of "
                        + ", ".join(SOURCE_TABLES),
                    }
                )
                continue
            content = await upload.read()
            if suffix == ".xlsx":
                tables[table] = _excel(table, content)
            else:
                path.write_bytes(content)
                tables[table] = read_table(table, path)
    if errors:
        raise UploadError(errors)
    return tables


def _excel(table: str, content: bytes) -> pd.DataFrame:
    """A sheet read as text, as a CSV is: the contract's coercion parses every column."""
    frame = pd.read_excel(io.BytesIO(content), dtype=str, engine="openpyxl")
    return frame.replace({np.nan: None})


def _validated(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every table coerced to the contract; :class:`UploadError` lists every bad row."""
    valid, errors = {}, []
    for table, frame in tables.items():
        try:
            good, failures = split_valid(table, frame)
        except SchemaError as exc:
            failures, good = exc.failures, frame
        errors += [
            {
                "field": table if f.row is None else f"{table}[{f.row}].{f.column}",
                "value": _json_value(f.value),
                "rule": f.rule,
            }
            for f in failures
        ]
        valid[table] = good
    if errors:
        raise UploadError(errors)
    return valid


@ui_app.post("/api/tables", response_model=None)
async def tables_to_request(
    files: list[UploadFile] = File(...),  # noqa: B008 (FastAPI's declaration style)
    product: str = Form("xyd"),
    as_of: str = Form(""),
    amount: float = Form(200.0),
    term_months: int = Form(12),
    guarantee: str = Form("none"),
) -> dict[str, Any] | JSONResponse:
    """One firm's tables as a score request with the application given in the form.

    The request is returned, not scored: the page shows it and posts it to ``/score``, where
    the application's fields are validated like any request's.
    """
    try:
        sources = _validated(await _read_uploads(files))
    except UploadError as exc:
        return _invalid(exc.errors)
    firms = sources.get("firms")
    if firms is None or len(firms) != 1:
        count = 0 if firms is None else len(firms)
        rule = "must hold exactly one firm (upload firms.csv with one row)"
        return _invalid([{"field": "firms", "value": count, "rule": rule}])
    application = {
        "loan_id": None,
        "credit_code": firms["credit_code"].iloc[0],
        "product": product,
        "applied_on": as_of or china_today().isoformat(),
        "amount": amount,
        "term_months": term_months,
        "guarantee": guarantee,
    }
    return request_from_frames(sources, application)


@ui_app.post("/api/batch", response_model=None)
async def batch(
    files: list[UploadFile] = File(...),  # noqa: B008 (FastAPI's declaration style)
) -> dict[str, Any] | JSONResponse:
    """Screen the uploaded applications as ``techrisk screen`` does, with the portfolio."""
    try:
        raw = await _read_uploads(files)
    except UploadError as exc:
        return _invalid(exc.errors)
    missing = [t for t in ("applications", "firms") if t not in raw]
    if missing:
        return _invalid(
            [{"field": "files", "value": t, "rule": "is required for a batch"} for t in missing]
        )
    n = len(raw["applications"])
    if n > MAX_BATCH_APPLICATIONS:
        rule = f"must hold at most {MAX_BATCH_APPLICATIONS} applications; use techrisk screen"
        return _invalid([{"field": "applications", "value": n, "rule": rule}])
    for frame in raw.values():
        frame[ROW] = np.arange(len(frame))
    service = bentoml.get_current_service()
    handle = service.scorer.handle
    try:
        results, errors, counts = screen_frames(
            raw, handle.model, ModelRef(handle.name, handle.version), china_today()
        )
    except SchemaError as exc:
        return _invalid(
            [
                {
                    "field": exc.table if f.row is None else f"{exc.table}[{f.row}].{f.column}",
                    "value": _json_value(f.value),
                    "rule": f.rule,
                }
                for f in exc.failures
            ]
        )
    params = PortfolioParams()
    cells, stress = aggregate(results, handle.model, params)
    return {
        "rows": _records(results),
        "errors": _records(errors),
        "counts": counts,
        "portfolio": report(cells, stress, params) if len(results) else None,
        "model": handle.describe(),
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _json_value(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp | dt.date):
        return value.date().isoformat() if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NaT or value is None:
        return None
    return value
