"""Request schemas: every rejection names field, value and rule; accepted requests build the
same features as the DataFrame path."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from features.build import build_feature_matrix, build_features
from features.credit_code import check_character, generate_codes
from features.schemas import KNOWN_ON, TABLES
from serving import schemas
from serving.examples import request_from_frames, write_example_request
from serving.schemas import (
    CHILD_TABLES,
    MAX_BATCH_ENV,
    RECORD_MODELS,
    Application,
    ScoreBatchRequest,
    ScoreRequest,
    china_today,
    parse_batch,
    to_sources,
    validation_errors,
)
from synthetic import generate_market

CODE, OTHER_CODE = (str(c) for c in generate_codes(2, np.random.default_rng(3)))
TODAY = dt.date(2025, 6, 30)
AS_OF = "2022-07-01"
#: Applications of the synthetic market compared through both paths.
N_EQUIVALENCE = 30


def valid_request() -> dict[str, Any]:
    """A small valid request with one record in every table (a fresh dict each call)."""
    return {
        "firm": {
            "credit_code": CODE,
            "name": "上海测试科技有限公司",
            "founded_on": "2015-03-01",
            "registered_capital": 500,
            "industry": "electronic_info",
            "district": "pudong",
            "is_high_tech": True,
            "high_tech_cert_on": "2020-11-12",
            "is_tech_sme": True,
            "is_specialized": False,
            "is_little_giant": False,
            "is_listed": False,
        },
        "application": {
            "loan_id": "L1",
            "product": "xyd",
            "as_of": AS_OF,
            "amount": 300,
            "term_months": 12,
            "guarantee": "none",
        },
        "ip_assets": [
            {
                "ip_id": "IP1",
                "ip_type": "invention",
                "filed_on": "2021-03-01",
                "granted_on": "2022-01-10",
                "claims": 12,
                "forward_citations": 1,
                "acquired": False,
            }
        ],
        "financials": [
            {
                "fiscal_year": 2021,
                "revenue": 1000.0,
                "rd_expense": 60.0,
                "high_tech_revenue": 700.0,
                "cost_total": 900.0,
                "net_profit": -5.5,
                "total_assets": 2000.0,
                "total_liabilities": 1000.0,
                "current_assets": 800.0,
                "current_liabilities": 600.0,
                "operating_cash_flow": 80.0,
            }
        ],
        "staffing": [
            {
                "month": "2022-05-01",
                "employees": 100,
                "rd_staff": 15,
                "tech_staff": 30,
                "college_educated": 50,
                "social_insured": 100,
            }
        ],
        "credit_events": [
            {"event_on": "2021-06-01", "kind": "overdue", "amount": 50.0, "days_past_due": 30}
        ],
        "tax_ratings": [{"year": 2021, "rating": "A"}],
        "financing_rounds": [
            {"closed_on": "2019-05-20", "round": "A", "amount": 3000, "lead_investor_tier": 2}
        ],
        "support_records": [
            {"event_on": "2021-09-01", "kind": "innovation_voucher", "amount": 20.0}
        ],
    }


def parse(raw: object) -> ScoreRequest:
    return ScoreRequest.model_validate(raw, context={"today": TODAY})


def rejection(raw: object) -> list[dict[str, Any]]:
    """The errors of an invalid request, checked to be JSON as a 4xx body must be."""
    with pytest.raises(ValidationError) as caught:
        parse(raw)
    errors = validation_errors(caught.value)
    json.dumps(errors, allow_nan=False)
    return errors


def only_error(raw: object) -> dict[str, Any]:
    errors = rejection(raw)
    assert len(errors) == 1, errors
    return errors[0]


def edit(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """Set a dotted path ("ip_assets.0.granted_on") of a request dict."""
    *parents, last = path.split(".")

    def apply(raw: dict[str, Any]) -> None:
        node: Any = raw
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value

    return apply


def drop(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def apply(raw: dict[str, Any]) -> None:
        node: Any = raw
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[last]

    return apply


def wrong_check_character(code: str) -> str:
    right = check_character(code[:-1])
    return code[:-1] + ("Y" if right != "Y" else "X")


# -- accepted requests -----------------------------------------------------------------------
def test_valid_request_parses_and_children_inherit_the_firm_code():
    request = parse(valid_request())
    assert all(r.credit_code == CODE for _, records in request.records() for r in records)
    assert request.application.credit_code == CODE


def test_empty_tables_are_a_thin_file_not_an_error():
    raw = valid_request()
    drop("application.loan_id")(raw)
    for table in CHILD_TABLES:
        raw[table] = []
    sources, applications = to_sources(parse(raw))
    assert all(len(next(iter(sources[t].values()))) == 0 for t in CHILD_TABLES)
    assert np.isfinite(build_feature_matrix(sources, applications)).any()


def test_numeric_strings_are_accepted_as_banks_send_them():
    raw = valid_request()
    edit("financials.0.revenue", "1000.50")(raw)
    edit("application.term_months", "12")(raw)
    edit("staffing.0.employees", 100.0)(raw)
    request = parse(raw)
    assert request.financials[0].revenue == 1000.5
    assert request.application.term_months == 12
    assert request.staffing[0].employees == 100


def test_a_child_record_may_repeat_the_firm_code():
    raw = valid_request()
    edit("ip_assets.0.credit_code", CODE)(raw)
    assert parse(raw).ip_assets[0].credit_code == CODE


def test_two_alike_credit_events_with_their_record_ids_are_two_records():
    """Two loans opened on one day for the same amount happen; the report's record numbers
    say they are two (without them the second is refused as a repeat)."""
    raw = valid_request()
    event = {"event_on": "2021-03-01", "kind": "loan_opened", "amount": 50.0}
    raw["credit_events"] += [{**event, "record_id": "R-1"}, {**event, "record_id": "R-2"}]
    sources, _ = to_sources(parse(raw))
    assert list(sources["credit_events"]["record_id"][1:]) == ["R-1", "R-2"]


def test_nullable_columns_may_be_omitted_and_become_missing():
    raw = valid_request()
    drop("financials.0.net_profit")(raw)
    sources, _ = to_sources(parse(raw))
    assert np.isnan(sources["financials"]["net_profit"][0])


# -- rejections: field, value and rule -------------------------------------------------------
REJECTIONS = [
    # (case, edit, field, value, words of the rule)
    (
        "bad check character",
        edit("firm.credit_code", wrong_check_character(CODE)),
        "firm.credit_code",
        wrong_check_character(CODE),
        f"check character expected {check_character(CODE[:-1])!r} got",
    ),
    (
        "credit code too short",
        edit("firm.credit_code", CODE[:10]),
        "firm.credit_code",
        CODE[:10],
        "length must be 18",
    ),
    (
        "unknown product",
        edit("application.product", "mortgage"),
        "application.product",
        "mortgage",
        "must be one of: tdld, xyd",
    ),
    (
        "unknown guarantee",
        edit("application.guarantee", "house"),
        "application.guarantee",
        "house",
        "must be one of: none, fund, ip_pledge",
    ),
    (
        "as-of in the future",
        edit("application.as_of", "2025-07-01"),
        "application.as_of",
        "2025-07-01",
        "must not be in the future (today is 2025-06-30",
    ),
    (
        "as-of on the founding day",
        edit("application.as_of", "2015-03-01"),
        "application.as_of",
        "2015-03-01",
        "must be after firm.founded_on (2015-03-01)",
    ),
    (
        "as-of before founding",
        edit("application.as_of", "2014-01-01"),
        "application.as_of",
        "2014-01-01",
        "must be after firm.founded_on",
    ),
    (
        "negative money",
        edit("financials.0.revenue", -1.0),
        "financials.0.revenue",
        -1.0,
        "must be a number between 0 and 10000000",
    ),
    (
        "negative registered capital",
        edit("firm.registered_capital", "-5"),
        "firm.registered_capital",
        "-5",
        "must be a number between 0 and 10000000",
    ),
    (
        "zero loan amount",
        edit("application.amount", 0),
        "application.amount",
        0,
        "must be a number > 0",
    ),
    (
        "granted before filed",
        edit("ip_assets.0.granted_on", "2021-02-01"),
        "ip_assets.0.granted_on",
        "2021-02-01",
        "must be on or after filed_on (2021-03-01)",
    ),
    (
        "lapsed without grant",
        lambda raw: raw["ip_assets"][0].update(granted_on=None, lapsed_on="2023-01-01"),
        "ip_assets.0.lapsed_on",
        "2023-01-01",
        "requires granted_on",
    ),
    (
        "lapsed before grant",
        edit("ip_assets.0.lapsed_on", "2021-12-31"),
        "ip_assets.0.lapsed_on",
        "2021-12-31",
        "must be on or after granted_on (2022-01-10)",
    ),
    (
        "pledged without grant",
        lambda raw: raw["ip_assets"][0].update(granted_on=None, pledged_on="2023-01-01"),
        "ip_assets.0.pledged_on",
        "2023-01-01",
        "requires granted_on",
    ),
    (
        "fractional claims",
        edit("ip_assets.0.claims", 2.5),
        "ip_assets.0.claims",
        2.5,
        "must be a whole number between 0 and 1000",
    ),
    (
        "high-tech revenue above revenue",
        edit("financials.0.high_tech_revenue", 1200.0),
        "financials.0.high_tech_revenue",
        1200.0,
        "must be <= revenue (1000)",
    ),
    (
        "current assets above total",
        edit("financials.0.current_assets", 2500.0),
        "financials.0.current_assets",
        2500.0,
        "must be <= total_assets (2000)",
    ),
    (
        "fiscal year out of range",
        edit("financials.0.fiscal_year", 1980),
        "financials.0.fiscal_year",
        1980,
        "must be a whole number between 1990 and 2100",
    ),
    (
        "staffing month not a first day",
        edit("staffing.0.month", "2022-05-15"),
        "staffing.0.month",
        "2022-05-15",
        "must be the first day of a month",
    ),
    (
        "more R&D staff than employees",
        edit("staffing.0.rd_staff", 150),
        "staffing.0.rd_staff",
        150,
        "must be <= employees (100)",
    ),
    (
        "overdue without days past due",
        edit("credit_events.0.days_past_due", None),
        "credit_events.0.days_past_due",
        None,
        "is required when kind is overdue",
    ),
    (
        "overdue with zero days past due",
        edit("credit_events.0.days_past_due", 0),
        "credit_events.0.days_past_due",
        0,
        "must be >= 1 when kind is overdue",
    ),
    (
        "unknown credit event",
        edit("credit_events.0.kind", "late"),
        "credit_events.0.kind",
        "late",
        "must be one of: loan_opened",
    ),
    (
        "unknown tax rating",
        edit("tax_ratings.0.rating", "E"),
        "tax_ratings.0.rating",
        "E",
        "must be one of: A, B, M, C, D",
    ),
    (
        "investor tier out of range",
        edit("financing_rounds.0.lead_investor_tier", 4),
        "financing_rounds.0.lead_investor_tier",
        4,
        "must be a whole number between 1 and 3",
    ),
    (
        "term too long",
        edit("application.term_months", 121),
        "application.term_months",
        121,
        "must be a whole number between 1 and 120",
    ),
    (
        "text where a number is expected",
        edit("support_records.0.amount", "abc"),
        "support_records.0.amount",
        "abc",
        "must be a number",
    ),
    (
        "boolean where a number is expected",
        edit("application.amount", True),
        "application.amount",
        True,
        "must be a number",
    ),
    (
        "NaN where a number is expected",
        edit("financials.0.net_profit", "NaN"),
        "financials.0.net_profit",
        "NaN",
        "must be a number",
    ),
    (
        "number where a date is expected",
        edit("ip_assets.0.filed_on", 20210301),
        "ip_assets.0.filed_on",
        20210301,
        "must be an ISO date (YYYY-MM-DD)",
    ),
    (
        "impossible date",
        edit("support_records.0.event_on", "2021-02-30"),
        "support_records.0.event_on",
        "2021-02-30",
        "must be an ISO date",
    ),
    (
        "number where text is expected",
        edit("firm.name", 42),
        "firm.name",
        42,
        "must be a string",
    ),
    (
        "flag that is not a flag",
        edit("firm.is_listed", "maybe"),
        "firm.is_listed",
        "maybe",
        "must be true or false",
    ),
    (
        "misspelt column",
        edit("ip_assets.0.granted_date", "2022-01-10"),
        "ip_assets.0.granted_date",
        "2022-01-10",
        "is not a field of this record",
    ),
    (
        "missing required column",
        drop("ip_assets.0.filed_on"),
        "ip_assets.0.filed_on",
        None,
        "is required",
    ),
    (
        "missing required table",
        drop("staffing"),
        "staffing",
        None,
        "missing required table",
    ),
    (
        "missing firm",
        drop("firm"),
        "firm",
        None,
        "is required",
    ),
    (
        "table that is not a list",
        edit("tax_ratings", None),
        "tax_ratings",
        None,
        "must be a list",
    ),
    (
        "child record of another firm",
        edit("ip_assets.0.credit_code", OTHER_CODE),
        "ip_assets.0.credit_code",
        OTHER_CODE,
        f"must equal firm.credit_code ({CODE})",
    ),
    (
        "application of another firm",
        edit("application.credit_code", OTHER_CODE),
        "application.credit_code",
        OTHER_CODE,
        f"must equal firm.credit_code ({CODE})",
    ),
    (
        "child record with an invalid code",
        edit("tax_ratings.0.credit_code", wrong_check_character(CODE)),
        "tax_ratings.0.credit_code",
        wrong_check_character(CODE),
        "check character expected",
    ),
    (
        "duplicate fiscal year",
        lambda raw: raw["financials"].append(dict(raw["financials"][0])),
        "financials.1.fiscal_year",
        2021,
        "must be unique within financials; also at financials[0]",
    ),
    (
        "the same credit event twice",
        lambda raw: raw["credit_events"].append(dict(raw["credit_events"][0])),
        "credit_events.1",
        {"event_on": "2021-06-01", "kind": "overdue", "amount": 50.0, "days_past_due": 30},
        "repeats credit_events[0]: one record sent twice would count twice; two records "
        "alike are told apart by their record_id",
    ),
    (
        "the same support record twice, the second with the firm's code",
        lambda raw: raw["support_records"].append(
            {**raw["support_records"][0], "credit_code": CODE}
        ),
        "support_records.1",
        {"event_on": "2021-09-01", "kind": "innovation_voucher", "amount": 20.0},
        "repeats support_records[0]",
    ),
    (
        "a 400-digit count",
        edit("ip_assets.0.claims", int("9" * 400)),
        "ip_assets.0.claims",
        "9999999999999999…(400 digits)",
        "must be a whole number between 0 and 1000",
    ),
    (
        "a 400-digit amount",
        edit("financials.0.cost_total", 10**400),
        "financials.0.cost_total",
        "1000000000000000…(401 digits)",
        "must be a number between 0 and 10000000",
    ),
    (
        "registered capital of 1e308",
        edit("firm.registered_capital", 1e308),
        "firm.registered_capital",
        1e308,
        "must be a number between 0 and 10000000",
    ),
    (
        "a loan of 1e30",
        edit("application.amount", 1e30),
        "application.amount",
        1e30,
        "must be a number > 0 and <= 100000",
    ),
    (
        "a loss beyond the plausible",
        edit("financials.0.net_profit", -2e7),
        "financials.0.net_profit",
        -2e7,
        "must be a number between -10000000 and 10000000",
    ),
    (
        "a number with a digit separator",
        edit("financials.0.revenue", "1_000"),
        "financials.0.revenue",
        "1_000",
        "must be a number between 0 and 10000000",
    ),
    (
        "a number padded with spaces",
        edit("staffing.0.employees", " 5 "),
        "staffing.0.employees",
        " 5 ",
        "must be a whole number between 0 and 1000000",
    ),
    (
        "a number with a plus sign",
        edit("application.term_months", "+12"),
        "application.term_months",
        "+12",
        "must be a whole number between 1 and 120",
    ),
]


@pytest.mark.parametrize(
    ("change", "field", "value", "rule"),
    [case[1:] for case in REJECTIONS],
    ids=[case[0] for case in REJECTIONS],
)
def test_each_rejection_names_field_value_and_rule(change, field, value, rule):
    raw = valid_request()
    change(raw)
    error = only_error(raw)
    assert error["field"] == _readable(field)
    assert error["value"] == value
    assert rule in error["rule"]


def _readable(path: str) -> str:
    """ "ip_assets.0.granted_on" → "ip_assets[0].granted_on"."""
    parts = [f"[{p}]" if p.isdigit() else f".{p}" for p in path.split(".")]
    return "".join(parts).lstrip(".")


def test_every_failing_row_rule_is_reported_not_just_the_first():
    raw = valid_request()
    edit("staffing.0.rd_staff", 150)(raw)
    edit("staffing.0.tech_staff", 160)(raw)
    edit("ip_assets.0.claims", -1)(raw)
    fields = {e["field"] for e in rejection(raw)}
    assert fields == {"staffing[0].rd_staff", "staffing[0].tech_staff", "ip_assets[0].claims"}


def test_a_table_past_the_record_limit_is_refused_naming_the_limit():
    raw = valid_request()
    raw["ip_assets"] = [raw["ip_assets"][0]] * 3
    with pytest.raises(ValidationError) as caught:
        ScoreRequest.model_validate(raw, context={"today": TODAY, "max_records": 2})
    assert validation_errors(caught.value) == [
        {
            "field": "ip_assets",
            "value": 3,
            "rule": "must have at most 2 records (TECHRISK_MAX_RECORDS)",
        }
    ]


def test_long_values_are_echoed_cut_with_their_size():
    raw = valid_request()
    raw["firm"]["name"] = 42
    raw["firm"]["district"] = ["x"] * 500
    raw["ip_assets"][0]["ip_type"] = "专利" * 100
    errors = {e["field"]: e["value"] for e in rejection(raw)}
    assert errors["firm.district"] == "<array of 500 items>"
    assert errors["ip_assets[0].ip_type"] == "专利" * 32 + "…(200 characters)"
    assert errors["firm.name"] == 42


def test_a_body_that_is_not_an_object_is_rejected_as_a_whole():
    assert only_error(["not", "a", "request"]) == {
        "field": "(body)",
        "value": ["not", "a", "request"],
        "rule": "must be a JSON object",
    }


def test_json_bodies_follow_the_same_rules():
    raw = valid_request()
    body = json.dumps(raw, ensure_ascii=False)
    from_json = ScoreRequest.model_validate_json(body, context={"today": TODAY})
    assert from_json == parse(raw)
    edit("ip_assets.0.filed_on", "1614556800")(raw)  # a Unix timestamp is not a date
    with pytest.raises(ValidationError) as caught:
        ScoreRequest.model_validate_json(json.dumps(raw), context={"today": TODAY})
    assert validation_errors(caught.value) == [
        {
            "field": "ip_assets[0].filed_on",
            "value": "1614556800",
            "rule": "must be an ISO date (YYYY-MM-DD)",
        }
    ]


def test_as_of_in_the_future_by_the_default_clock_of_china():
    raw = valid_request()
    edit("application.as_of", (china_today() + dt.timedelta(days=2)).isoformat())(raw)
    with pytest.raises(ValidationError, match="must not be in the future"):
        ScoreRequest.model_validate(raw)
    edit("application.as_of", (china_today() - dt.timedelta(days=2)).isoformat())(raw)
    ScoreRequest.model_validate(raw)


# -- the point-in-time report ----------------------------------------------------------------
def test_future_records_are_counted_by_each_tables_known_on_rule():
    raw = valid_request()  # as of 2022-07-01
    raw["ip_assets"].append({**raw["ip_assets"][0], "ip_id": "IP2", "filed_on": AS_OF})
    raw["ip_assets"][1].update(granted_on=None)
    # FY2021 is filed by 2022-05-31 (known); FY2022 only by 2023-05-31.
    raw["financials"].append({**raw["financials"][0], "fiscal_year": 2022})
    # May is known on 1 June (before as-of), June only on 1 July (= as-of: not before it).
    raw["staffing"].append({**raw["staffing"][0], "month": "2022-06-01"})
    raw["credit_events"].append({"event_on": AS_OF, "kind": "loan_opened", "amount": 10})
    # Tax year 2021 is published by 2022-04-30: known.
    assert parse(raw).future_records() == {
        "ip_assets": 1,
        "financials": 1,
        "staffing": 1,
        "credit_events": 1,
        "tax_ratings": 0,
        "financing_rounds": 0,
        "support_records": 0,
    }


# -- equivalence with the DataFrame path -----------------------------------------------------
@pytest.fixture(scope="module")
def market() -> dict[str, pd.DataFrame]:
    return generate_market(n_firms=500, seed=1)


@pytest.fixture(scope="module")
def sample(market) -> pd.DataFrame:
    """Applications of distinct firms, drawn reproducibly."""
    apps = market["applications"].drop_duplicates("credit_code")
    return apps.sample(N_EQUIVALENCE, random_state=0)


def _one_firm(market: dict[str, pd.DataFrame], code: str) -> dict[str, pd.DataFrame]:
    return {
        name: frame[frame["credit_code"] == code]
        for name, frame in market.items()
        if name in TABLES and "credit_code" in frame.columns
    }


def test_request_path_builds_the_same_features_as_the_dataframe_path(market, sample):
    batch = build_features(market, sample).to_numpy()
    for i, (_, app) in enumerate(sample.iterrows()):
        request = parse(json.loads(json.dumps(request_from_frames(market, app))))
        online = build_feature_matrix(*to_sources(request))
        own = build_features(_one_firm(market, app["credit_code"]), sample.iloc[[i]])
        # Same records, different container: bit for bit (NaN equal to NaN).
        np.testing.assert_array_equal(online, own.to_numpy())
        # Against the whole market the prefix sums run over other firms' rows too, so
        # sums may differ in the last bit.
        np.testing.assert_allclose(online[0], batch[i], rtol=1e-12, atol=0)


def test_future_record_counts_agree_with_the_contracts_known_on_dates(market, sample):
    for _, app in sample.iterrows():
        request = parse(request_from_frames(market, app))
        own = _one_firm(market, app["credit_code"])
        expected = {
            table: int((KNOWN_ON[table].dates(own[table]) >= app["applied_on"]).sum())
            for table in CHILD_TABLES
        }
        assert request.future_records() == expected


_KINDS = {"float64": "f", "int64": "i", "bool": "b"}


def test_to_sources_gives_the_contract_columns_as_numpy(market, sample):
    request = parse(request_from_frames(market, sample.iloc[0]))
    sources, applications = to_sources(request)
    for table, columns in sources.items():
        assert list(columns) == list(TABLES[table].columns)
        for name, values in columns.items():
            contract = str(TABLES[table].columns[name].dtype)
            kind = "M" if contract.startswith("datetime") else _KINDS.get(contract, "O")
            assert values.dtype.kind == kind, (table, name, values.dtype)
    assert sources["staffing"]["month"].dtype == np.dtype("datetime64[D]")
    assert list(applications) == [c for c in TABLES["applications"].columns if c != "default_12m"]
    assert all(len(v) == 1 for v in applications.values())


def test_missing_values_become_nan_and_nat():
    raw = valid_request()
    raw["ip_assets"][0].update(granted_on=None, claims=None)
    sources, _ = to_sources(parse(raw))
    assert np.isnat(sources["ip_assets"]["granted_on"][0])
    assert np.isnan(sources["ip_assets"]["claims"][0])


# -- the contract mirrored -------------------------------------------------------------------
@pytest.mark.parametrize("table", list(RECORD_MODELS))
def test_each_record_model_has_exactly_the_contract_columns(table):
    assert list(RECORD_MODELS[table].model_fields) == list(TABLES[table].columns)


@pytest.mark.parametrize("table", list(RECORD_MODELS))
def test_nullable_columns_are_the_optional_fields(table):
    model, schema = RECORD_MODELS[table], TABLES[table]
    optional = {name for name, field in model.model_fields.items() if not field.is_required()}
    nullable = {name for name, column in schema.columns.items() if column.nullable}
    assert optional - {"credit_code"} == nullable


def test_application_fields_are_the_contracts_but_named_as_of():
    contract = [c for c in TABLES["applications"].columns if c != "default_12m"]
    renamed = ["as_of" if c == "applied_on" else c for c in contract]
    assert sorted(Application.model_fields) == sorted(renamed)


# -- batches ---------------------------------------------------------------------------------
def test_one_bad_item_does_not_fail_the_batch():
    bad = valid_request()
    edit("application.product", "mortgage")(bad)
    requests, errors = parse_batch(
        {"items": [valid_request(), bad, "junk", valid_request()]}, today=TODAY
    )
    assert [r is not None for r in requests] == [True, False, False, True]
    assert errors[0] is None and errors[3] is None
    assert errors[1].index == 1
    assert errors[1].errors == [
        {"field": "application.product", "value": "mortgage", "rule": "must be one of: tdld, xyd"}
    ]
    assert errors[2].errors[0]["rule"] == "must be a JSON object"


def test_an_oversized_batch_is_refused_naming_the_limit(monkeypatch):
    monkeypatch.setattr(schemas, "MAX_BATCH", 2)
    with pytest.raises(ValidationError) as caught:
        parse_batch({"items": [valid_request()] * 3}, today=TODAY)
    assert validation_errors(caught.value) == [
        {
            "field": "items",
            "value": 3,
            "rule": f"must have at most 2 items ({MAX_BATCH_ENV}); split the batch",
        }
    ]
    requests, _ = parse_batch({"items": [valid_request()] * 2}, today=TODAY)
    assert len(requests) == 2


def test_the_batch_limit_setting_defaults_to_a_thousand_and_is_checked(monkeypatch):
    monkeypatch.delenv(MAX_BATCH_ENV, raising=False)
    assert schemas.read_max_batch() == 1000
    monkeypatch.setenv(MAX_BATCH_ENV, "250")
    assert schemas.read_max_batch() == 250
    monkeypatch.setenv(MAX_BATCH_ENV, "lots")
    with pytest.raises(ValueError, match=f"{MAX_BATCH_ENV} must be a positive integer"):
        schemas.read_max_batch()


def test_the_batch_limit_can_be_given_per_call():
    with pytest.raises(ValidationError, match="at most 1 items"):
        parse_batch({"items": [{}, {}]}, max_items=1)


def test_the_batch_schema_documents_items_as_score_requests():
    items = ScoreBatchRequest.model_json_schema()["properties"]["items"]
    assert items["items"] == {"$ref": "#/$defs/ScoreRequest"}
    assert items["maxItems"] == schemas.MAX_BATCH


def test_a_batch_without_items_is_refused():
    with pytest.raises(ValidationError) as caught:
        parse_batch({"requests": []})
    fields = {e["field"] for e in validation_errors(caught.value)}
    assert fields == {"items", "requests"}


# -- the example request ---------------------------------------------------------------------
def test_example_request_is_indented_utf8_json_that_validates(market, tmp_path):
    path = write_example_request(tmp_path / "request.json", market, seed=0)
    text = path.read_text(encoding="utf-8")
    assert "上海" in text and "\n  " in text  # not \u-escaped, indented
    request = parse(json.loads(text))
    assert all(getattr(request, table) for table in CHILD_TABLES)


def test_request_from_frames_is_plain_json(market, sample):
    raw = request_from_frames(market, sample.iloc[0])
    assert json.loads(json.dumps(raw, allow_nan=False)) == raw
