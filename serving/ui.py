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
- ``POST /ui/api/policy``: the 科技型中小企业 points and 高企 checks of a request;
- ``GET /ui/api/history/{credit_code}``: the firm's past decisions from the audit store.

Errors have the service's shape: ``{"error", "errors": [{"field", "value", "rule"}]}``.
The page's files are open; its helpers need an API key like the rest of the service
(``serving/auth.py``): the page sends the key typed into its key field as a Bearer token.
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
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from features.build import build_feature_matrix
from features.credit_code import InvalidCreditCode, validate
from features.errors import SchemaError
from features.families.policy import (
    HNTE_MIN_HIGH_TECH_REVENUE_SHARE,
    HNTE_MIN_TECH_SHARE,
    TSME_PASS_POINTS,
)
from features.loaders import read_table, split_valid
from features.registry import FAMILIES, FEATURE_NAMES, INDUSTRIES
from features.schemas import SOURCE_TABLES
from serving.examples import request_from_frames
from serving.openapi import REFUSALS
from serving.responses import ErrorResponse
from serving.router_errors import METHOD_NOT_ALLOWED, NOT_FOUND
from serving.schemas import (
    ScoreRequest,
    china_today,
    field_errors,
    to_sources,
    validation_errors,
)
from serving.screening.part import ModelRef, screen_frames
from serving.screening.partition import ROW
from serving.screening.portfolio import PortfolioParams, aggregate, report
from synthetic import generate_market

STATIC = Path(__file__).with_name("ui_static")
#: The sample market: small enough to draw in about a second at the first request.
SAMPLE_FIRMS = 300
SAMPLE_SEED = 11
#: Applications one batch upload may carry (the page is for a desk, not a fund's book).
MAX_BATCH_APPLICATIONS = 5_000
HISTORY_LIMIT = 50
UPLOAD_SUFFIXES = (".csv", ".parquet", ".xlsx")

#: The page's API refuses as the service does, in the service's one error shape: documented
#: on every operation of its own document (``/ui/openapi.json``) in place of FastAPI's
#: ``{"detail": ...}``, which :func:`_request_invalid` and :func:`_http_refusal` replace. A
#: path whose parameter the router cannot take (a credit code holding a newline) is a 404.
ui_app = FastAPI(
    title="techrisk loan officer's page",
    docs_url=None,
    redoc_url=None,
    responses={
        status: {"model": ErrorResponse, "description": when}
        for status, when in (
            REFUSALS | {404: "No such firm, sample or endpoint of the page."}
        ).items()
    },
)
ui_app.mount("/static", StaticFiles(directory=STATIC), name="static")


class UploadError(ValueError):
    """A bad upload; ``errors`` are in the service's ``{field, value, rule}`` shape."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{e['field']} {e['rule']}" for e in errors))
        self.errors = errors


def _invalid(errors: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"error": "invalid request", "errors": errors}, status_code=422)


#: The page's words for Starlette's refusals other than a 400: the service router's.
_HTTP_ERRORS = {404: NOT_FOUND, 405: METHOD_NOT_ALLOWED}


@ui_app.exception_handler(StarletteHTTPException)
async def _http_refusal(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Starlette's own refusals inside the page (a multipart body it cannot read is a 400, a
    path without a route a 404) in the service's error shape, not ``{"detail": ...}``."""
    detail = str(exc.detail)
    if exc.status_code == 400:
        error, field, value = "malformed request body (请求体格式错误)", "(body)", None
    else:
        error = _HTTP_ERRORS.get(exc.status_code, detail)
        field, value = "path", request.url.path
    body = {"error": error, "errors": [{"field": field, "value": value, "rule": detail}]}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


@ui_app.exception_handler(RequestValidationError)
async def _request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
    """A query, path or form parameter FastAPI itself refused (``limit=abc``): the field
    named without its place (``limit``, not ``query.limit``), as every other 422."""
    return _invalid(field_errors({**e, "loc": tuple(e["loc"])[1:]} for e in exc.errors()))


@ui_app.get("/", include_in_schema=False, response_model=None)
def index(request: Request) -> FileResponse | RedirectResponse:
    """The page; ``/ui`` is sent to ``/ui/`` so that its relative asset paths resolve."""
    if not request.url.path.endswith("/"):
        return RedirectResponse(f"{request.url.path}/")
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


@ui_app.get("/api/families")
def families() -> dict[str, list[str]]:
    """The feature families' (zh, en) names, from the registry, for the waterfall."""
    return FAMILIES


# -- sample firms ----------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _market() -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """(tables, newest application per firm) of the sample market, drawn once."""
    market = generate_market(n_firms=SAMPLE_FIRMS, seed=SAMPLE_SEED)
    newest = (
        market["applications"]
        .sort_values(["applied_on", "loan_id"])
        .drop_duplicates("credit_code", keep="last")
        .merge(market["firms"][["credit_code", "name", "industry"]], on="credit_code")
        .sort_values("credit_code")
        .set_index("credit_code", drop=False)
    )
    return market, newest


@ui_app.get("/api/samples")
def samples(q: str = "", limit: int = 20) -> list[dict[str, Any]]:
    """Sample firms whose name or credit code contains ``q`` (case-insensitive)."""
    _, newest = _market()
    needle = q.strip().lower()
    hit = newest["name"].str.lower().str.contains(needle, regex=False) | newest[
        "credit_code"
    ].str.lower().str.contains(needle, regex=False)
    rows = newest[hit.to_numpy()].head(max(1, min(limit, 100)))
    return [
        {
            "credit_code": row.credit_code,
            "name": row.name,
            "industry": row.industry,
            "as_of": row.applied_on.date().isoformat(),
            "product": row.product,
        }
        for row in rows.itertuples(index=False)
    ]


@ui_app.get("/api/samples/{credit_code}", response_model=None)
def sample(credit_code: str) -> dict[str, Any] | JSONResponse:
    """The sample firm's score request: its records and its newest application."""
    market, newest = _market()
    if credit_code not in newest.index:
        return _invalid(
            [{"field": "credit_code", "value": credit_code, "rule": "is not a sample firm"}]
        )
    return request_from_frames(market, newest.loc[credit_code])


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
    cells, stress, migration = aggregate(results, handle.model, params)
    return {
        "rows": _records(results),
        "errors": _records(errors),
        "counts": counts,
        "portfolio": report(cells, stress, migration, params) if len(results) else None,
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


# -- policy checklist ------------------------------------------------------------------------
@ui_app.post("/api/policy", response_model=None)
def policy_view(body: dict[str, Any]) -> dict[str, Any] | JSONResponse:
    """The 科技型中小企业 points and the 高企 checks of a score request, from its features.

    The points and flags are the feature code's own (``features/families/policy.py``); the
    checklist sets each beside the firm's value and the threshold the policy text names.
    """
    try:
        request = ScoreRequest.model_validate(body)
    except ValidationError as exc:
        return _invalid(validation_errors(exc))
    sources, application = to_sources(request)
    X = build_feature_matrix(sources, application)
    f = {name: _json_value(float(X[0, j])) for j, name in enumerate(FEATURE_NAMES)}
    return {"features": f, "checks": policy_checks(f)}


def policy_checks(f: dict[str, float | None]) -> list[dict[str, Any]]:
    """Checklist rows ``{key, value, threshold, met}``; ``met`` None when not assessable."""

    def at_least(value: float | None, bound: float) -> bool | None:
        return None if value is None else value + 1e-9 >= bound

    def flag(value: float | None) -> bool | None:
        return None if value is None else value >= 0.5

    ip_total = (
        None
        if f["ip_class1_valid"] is None or f["ip_class2_valid"] is None
        else f["ip_class1_valid"] + f["ip_class2_valid"]
    )
    industry = f["firm_industry"]
    return [
        {
            "key": "tsme_staff",
            "value": f["pol_tsme_staff_points"],
            "threshold": 20,
            "met": at_least(f["pol_tsme_staff_points"], 1),
        },
        {
            "key": "tsme_rd",
            "value": f["pol_tsme_rd_points"],
            "threshold": 50,
            "met": at_least(f["pol_tsme_rd_points"], 1),
        },
        {
            "key": "tsme_ip",
            "value": f["pol_tsme_ip_points"],
            "threshold": 30,
            "met": at_least(f["pol_tsme_ip_points"], 1),
        },
        {
            "key": "tsme_total",
            "value": f["pol_tsme_points"],
            "threshold": TSME_PASS_POINTS,
            "met": at_least(f["pol_tsme_points"], TSME_PASS_POINTS),
        },
        {
            "key": "tsme_size",
            "value": f["pol_tsme_size_eligible"],
            "threshold": None,
            "met": flag(f["pol_tsme_size_eligible"]),
        },
        {
            "key": "tsme_fast_track",
            "value": f["pol_tsme_fast_track"],
            "threshold": None,
            "met": flag(f["pol_tsme_fast_track"]),
        },
        {
            "key": "tsme_qualified",
            "value": f["pol_tsme_qualified"],
            "threshold": None,
            "met": flag(f["pol_tsme_qualified"]),
        },
        {
            "key": "hnte_age",
            "value": f["firm_age_years"],
            "threshold": 1,
            "met": at_least(f["firm_age_years"], 1),
        },
        {"key": "hnte_ip", "value": ip_total, "threshold": 1, "met": at_least(ip_total, 1)},
        {
            "key": "hnte_field",
            "value": None if industry is None else INDUSTRIES[int(industry)],
            "threshold": None,
            "met": None if industry is None else INDUSTRIES[int(industry)] != "other",
        },
        {
            "key": "hnte_tech_staff",
            "value": f["staff_tech_share"],
            "threshold": HNTE_MIN_TECH_SHARE,
            "met": at_least(f["staff_tech_share"], HNTE_MIN_TECH_SHARE),
        },
        {
            "key": "hnte_rd",
            "value": f["rd_ratio_3y"],
            "threshold": None,
            "met": flag(f["pol_hnte_rd_met"]),
        },
        {
            "key": "hnte_revenue",
            "value": f["fin_high_tech_revenue_share"],
            "threshold": HNTE_MIN_HIGH_TECH_REVENUE_SHARE,
            "met": at_least(f["fin_high_tech_revenue_share"], HNTE_MIN_HIGH_TECH_REVENUE_SHARE),
        },
    ]
