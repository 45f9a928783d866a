"""The data contract: each broken rule is reported with table, row, column, value and rule."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.credit_code import generate_codes
from features.errors import Failure, SchemaError
from features.loaders import (
    WHOLE_RECORD_RULE,
    empty_table,
    load_sources,
    load_table,
    split_valid,
    validate_table,
)
from features.schemas import (
    DATE_COLUMNS,
    DATE_DTYPE,
    KNOWN_ON,
    SOURCE_TABLES,
    TABLES,
    VALUE_KNOWN_ON,
)

CODES = list(generate_codes(3, np.random.default_rng(20240101)))
A, B, C = CODES
BAD_CHECK = A[:-1] + ("0" if A[-1] != "0" else "1")


def valid_tables() -> dict[str, pd.DataFrame]:
    """A small, valid instance of every table, as a bank would export it (text dates)."""
    return {
        "firms": pd.DataFrame(
            {
                "credit_code": CODES,
                "name": ["甲科技有限公司", "乙生物医药有限公司", "丙新材料有限公司"],
                "founded_on": ["2015-03-01", "2018-07-15", "2020-01-02"],
                "registered_capital": [500.0, 1000.0, 50.0],
                "industry": ["electronic_info", "bio_medicine", "other"],
                "district": ["浦东新区", "徐汇区", "闵行区"],
                "is_high_tech": [True, False, False],
                "high_tech_cert_on": ["2019-11-28", None, None],
                "is_tech_sme": [True, True, False],
                "is_specialized": [False, True, False],
                "is_little_giant": [False, False, False],
                "is_listed": [False, False, False],
            }
        ),
        "ip_assets": pd.DataFrame(
            {
                "credit_code": [A, A, B],
                "ip_id": ["CN201810000001.1", "CN201920000002.X", "2020SR000003"],
                "ip_type": ["invention", "utility_model", "software_copyright"],
                "filed_on": ["2018-01-10", "2019-05-01", "2020-02-02"],
                "granted_on": ["2020-06-30", "2019-12-01", None],
                "lapsed_on": [None, "2022-12-01", None],
                "claims": [10, 3, None],
                "forward_citations": [2, None, None],
                "acquired": [False, True, False],
                "pledged_on": ["2021-03-01", None, None],
            }
        ),
        "financials": pd.DataFrame(
            {
                "credit_code": [A, A, B, C],
                "fiscal_year": [2021, 2022, 2022, 2022],
                "revenue": [1200.0, 1500.0, 300.0, 10.0],
                "rd_expense": [150.0, 180.0, 90.0, None],
                "high_tech_revenue": [900.0, 1100.0, 200.0, None],
                "cost_total": [1000.0, 1300.0, 320.0, 12.0],
                "net_profit": [80.0, 120.0, -20.0, -2.0],
                "total_assets": [2000.0, 2400.0, 500.0, 30.0],
                "total_liabilities": [800.0, 900.0, 400.0, 25.0],
                "current_assets": [900.0, 1000.0, 200.0, 20.0],
                "current_liabilities": [500.0, 600.0, 300.0, 20.0],
                "operating_cash_flow": [60.0, 90.0, -40.0, None],
            }
        ),
        "staffing": pd.DataFrame(
            {
                "credit_code": [A, A, B],
                "month": ["2022-01-01", "2022-02-01", "2022-01-01"],
                "employees": [50, 52, 12],
                "rd_staff": [15, 16, 6],
                "tech_staff": [20, 21, 8],
                "college_educated": [40, 41, None],
                "social_insured": [48, 50, 12],
            }
        ),
        "credit_events": pd.DataFrame(
            {
                "credit_code": [A, A, B],
                "event_on": ["2021-01-05", "2021-06-05", "2022-03-01"],
                "kind": ["loan_opened", "overdue", "court_judgment"],
                "amount": [300.0, 20.0, None],
                "days_past_due": [None, 35, None],
            }
        ),
        "tax_ratings": pd.DataFrame(
            {
                "credit_code": [A, A, B],
                "year": [2021, 2022, 2022],
                "rating": ["A", "B", "M"],
            }
        ),
        "financing_rounds": pd.DataFrame(
            {
                "credit_code": [A],
                "closed_on": ["2021-09-30"],
                "round": ["A"],
                "amount": [3000.0],
                "lead_investor_tier": [2],
            }
        ),
        "support_records": pd.DataFrame(
            {
                "credit_code": [A, B],
                "event_on": ["2021-04-01", "2022-05-20"],
                "kind": ["innovation_voucher", "tax_relief"],
                "amount": [20.0, None],
            }
        ),
        "applications": pd.DataFrame(
            {
                "loan_id": ["L1", "L2", "L3"],
                "credit_code": [A, B, C],
                "product": ["tdld", "xyd", "xyd"],
                "applied_on": ["2023-06-01", "2023-07-01", "2023-08-01"],
                "amount": [500.0, 100.0, 50.0],
                "term_months": [36, 12, 12],
                "guarantee": ["ip_pledge", "fund", "none"],
                "default_12m": [0, 1, None],
            }
        ),
        "truth": pd.DataFrame({"loan_id": ["L1", "L2", "L3"], "true_pd": [0.02, 0.3, 0.1]}),
    }


def schema_error(name: str, frame: pd.DataFrame) -> SchemaError:
    with pytest.raises(SchemaError) as caught:
        validate_table(name, frame)
    return caught.value


def assert_single_failure(
    err: SchemaError, table: str, column: str, value: object, rule: str, row: int
) -> None:
    """The error names table, column, value and rule, in its attributes and its message."""
    assert (err.table, err.column, err.rule) == (table, column, rule)
    assert err.failures == [Failure(row, column, value, rule)]
    message = str(err)
    for part in (table, column, rule, f"at row {row}", "(1 row failing)"):
        assert part in message


# -- valid data --------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(TABLES))
def test_valid_tables_pass_and_get_the_documented_dtypes(name: str) -> None:
    frame = valid_tables()[name]
    loaded = validate_table(name, frame)
    assert list(loaded.columns) == list(TABLES[name].columns)
    assert len(loaded) == len(frame)
    for column in DATE_COLUMNS[name]:
        assert loaded[column].dtype == DATE_DTYPE
    assert loaded.dtypes.equals(empty_table(name).dtypes)


def test_nullable_integers_are_float_and_required_integers_int64() -> None:
    ip = validate_table("ip_assets", valid_tables()["ip_assets"])
    fin = validate_table("financials", valid_tables()["financials"])
    assert ip["claims"].dtype == np.float64 and np.isnan(ip["claims"].iloc[2])
    assert fin["fiscal_year"].dtype == np.int64
    assert ip["acquired"].dtype == bool


def test_unknown_columns_are_dropped() -> None:
    frame = valid_tables()["tax_ratings"].assign(remark="ignored")
    assert "remark" not in validate_table("tax_ratings", frame).columns


# -- one test per kind of error ------------------------------------------------------------
def test_negative_revenue() -> None:
    fin = valid_tables()["financials"]
    fin.loc[3, "revenue"] = -5.0
    err = schema_error("financials", fin)
    rule = "must be between 0 and 10000000"
    assert_single_failure(err, "financials", "revenue", -5.0, rule, row=3)
    assert str(err) == (f"financials: column 'revenue' {rule}; got -5.0 at row 3 (1 row failing)")


def test_unknown_ip_type() -> None:
    ip = valid_tables()["ip_assets"]
    ip.loc[1, "ip_type"] = "patent"
    err = schema_error("ip_assets", ip)
    assert err.rule.startswith("must be one of: invention, utility_model")
    assert_single_failure(err, "ip_assets", "ip_type", "patent", err.rule, row=1)
    assert "got 'patent' at row 1" in str(err)


def test_granted_before_filed() -> None:
    ip = valid_tables()["ip_assets"]
    ip.loc[0, "granted_on"] = "2017-12-31"
    err = schema_error("ip_assets", ip)
    assert_single_failure(
        err,
        "ip_assets",
        "granted_on",
        pd.Timestamp("2017-12-31"),
        "must be on or after filed_on",
        row=0,
    )
    assert "got 2017-12-31 at row 0" in str(err)


def test_lapse_without_grant() -> None:
    ip = valid_tables()["ip_assets"]
    ip.loc[2, "lapsed_on"] = "2023-01-01"
    err = schema_error("ip_assets", ip)
    assert_single_failure(
        err, "ip_assets", "lapsed_on", pd.Timestamp("2023-01-01"), "requires granted_on", row=2
    )


def test_bad_check_character() -> None:
    firms = valid_tables()["firms"]
    firms.loc[1, "credit_code"] = BAD_CHECK
    err = schema_error("firms", firms)
    rule = "must be a valid unified social credit code (GB 32100-2015)"
    assert_single_failure(err, "firms", "credit_code", BAD_CHECK, rule, row=1)
    assert repr(BAD_CHECK) in str(err)


def test_missing_column() -> None:
    fin = valid_tables()["financials"].drop(columns=["revenue"])
    err = schema_error("financials", fin)
    assert err.failures == [Failure(None, "revenue", None, "is required but missing")]
    assert (err.table, err.column, err.rule) == ("financials", "revenue", "is required but missing")
    assert str(err) == "financials: column 'revenue' is required but missing"


def test_missing_column_raises_in_split_valid_too() -> None:
    with pytest.raises(SchemaError, match="column 'rating' is required but missing"):
        split_valid("tax_ratings", valid_tables()["tax_ratings"].drop(columns=["rating"]))


def test_duplicate_key() -> None:
    fin = valid_tables()["financials"]
    fin.loc[1, "fiscal_year"] = 2021  # A already filed 2021 in row 0
    err = schema_error("financials", fin)
    key = "credit_code, fiscal_year"
    assert (err.table, err.column, err.rule) == ("financials", key, "must be unique")
    assert err.failures == [
        Failure(0, key, (A, 2021), "must be unique"),
        Failure(1, key, (A, 2021), "must be unique"),
    ]
    assert f"columns (credit_code, fiscal_year) must be unique; got ('{A}', 2021) at row 0" in str(
        err
    )
    assert "(2 rows failing)" in str(err)


def test_duplicate_single_column_key() -> None:
    apps = valid_tables()["applications"]
    apps.loc[2, "loan_id"] = "L1"
    err = schema_error("applications", apps)
    assert [(f.row, f.column, f.value, f.rule) for f in err.failures] == [
        (0, "loan_id", "L1", "must be unique"),
        (2, "loan_id", "L1", "must be unique"),
    ]


def test_overdue_without_days_past_due() -> None:
    events = valid_tables()["credit_events"]
    events.loc[1, "days_past_due"] = None
    err = schema_error("credit_events", events)
    assert err.failures[0].value != err.failures[0].value  # the missing value, NaN
    assert (err.table, err.column, err.rule) == (
        "credit_events",
        "days_past_due",
        "is required when kind is overdue",
    )
    assert [f.row for f in err.failures] == [1]
    assert str(err) == (
        "credit_events: column 'days_past_due' is required when kind is overdue; "
        "got null at row 1 (1 row failing)"
    )


def test_overdue_with_zero_days_past_due() -> None:
    events = valid_tables()["credit_events"]
    events.loc[1, "days_past_due"] = 0
    err = schema_error("credit_events", events)
    assert_single_failure(
        err, "credit_events", "days_past_due", 0.0, "must be >= 1 when kind is overdue", row=1
    )


def test_staffing_month_not_first_of_month() -> None:
    staff = valid_tables()["staffing"]
    staff.loc[2, "month"] = "2022-01-15"
    err = schema_error("staffing", staff)
    assert_single_failure(
        err,
        "staffing",
        "month",
        pd.Timestamp("2022-01-15"),
        "must be the first day of a month",
        row=2,
    )
    assert "got 2022-01-15 at row 2" in str(err)


def test_staff_count_above_employees() -> None:
    staff = valid_tables()["staffing"]
    staff.loc[0, "rd_staff"] = 51
    err = schema_error("staffing", staff)
    assert_single_failure(err, "staffing", "rd_staff", 51.0, "must be <= employees", row=0)


def test_high_tech_revenue_above_revenue() -> None:
    fin = valid_tables()["financials"]
    fin.loc[2, "high_tech_revenue"] = 301.0
    err = schema_error("financials", fin)
    assert_single_failure(
        err, "financials", "high_tech_revenue", 301.0, "must be <= revenue", row=2
    )


@pytest.mark.parametrize(
    ("table", "column", "value", "rule"),
    [
        ("firms", "founded_on", "2015-02-30", "must be a date (YYYY-MM-DD)"),
        ("firms", "is_listed", "maybe", "must be true or false"),
        ("firms", "registered_capital", "五百", "must be a finite number"),
        ("financials", "fiscal_year", "2021.5", "must be an integer"),
        ("firms", "founded_on", "2015-03-01T09:30", "must be a date without a time of day"),
    ],
)
def test_values_that_do_not_parse(table: str, column: str, value: str, rule: str) -> None:
    frame = valid_tables()[table].astype({column: object})
    frame.loc[0, column] = value
    err = schema_error(table, frame)
    reported = value if "time of day" not in rule else pd.Timestamp(value)
    assert_single_failure(err, table, column, reported, rule, row=0)


@pytest.mark.parametrize("written", [20150301, 20150301.0, "20150301", "2015-03-01"])
def test_a_date_written_as_digits_reads_as_that_date(written: object) -> None:
    """A bank's export may write ``20150301``; a CSV then holds a number, which pandas 4 would
    read as nanoseconds after 1970. No such warning may be raised, and the date is kept."""
    frame = valid_tables()["firms"].astype({"founded_on": object})
    frame["founded_on"] = written
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        valid = validate_table("firms", frame)
    assert (valid["founded_on"] == pd.Timestamp("2015-03-01")).all()


@pytest.mark.parametrize("written", [1.5e9, 44256, True])
def test_a_number_that_is_no_date_is_refused(written: object) -> None:
    frame = valid_tables()["firms"].astype({"founded_on": object})
    frame.loc[0, "founded_on"] = written
    err = schema_error("firms", frame)
    assert (err.column, err.rule, err.failures[0].row) == (
        "founded_on",
        "must be a date (YYYY-MM-DD)",
        0,
    )


def test_required_value_missing() -> None:
    apps = valid_tables()["applications"]
    apps.loc[1, "term_months"] = None
    err = schema_error("applications", apps)
    assert (err.column, err.rule, err.failures[0].row) == ("term_months", "must not be null", 1)


def test_all_failing_rows_are_collected_and_counted() -> None:
    fin = pd.concat([valid_tables()["financials"]] * 3, ignore_index=True)
    fin["fiscal_year"] = np.arange(2000, 2012)
    fin.loc[[1, 5, 7, 10], "revenue"] = -1.0
    fin.loc[4, "credit_code"] = BAD_CHECK
    err = schema_error("financials", fin)
    negative = [f.row for f in err.failures if f.column == "revenue"]
    assert negative == [1, 5, 7, 10]
    assert [f.row for f in err.failures if f.column == "credit_code"] == [4]
    assert "(4 rows failing)" in str(err)
    assert "at row 1, -1.0 at row 5, -1.0 at row 7, ..." in str(err)


# -- split_valid -----------------------------------------------------------------------------
def test_split_valid_keeps_good_rows_and_reports_bad_ones() -> None:
    ip = valid_tables()["ip_assets"]
    ip.index = ["x", "y", "z"]
    ip.loc["x", "ip_type"] = "patent"
    ip.loc["z", "filed_on"] = "not a date"
    valid, failures = split_valid("ip_assets", ip)
    assert list(valid.index) == ["y"]
    assert valid["filed_on"].dtype == DATE_DTYPE
    assert [(f.row, f.column) for f in failures] == [(0, "ip_type"), (2, "filed_on")]


@settings(max_examples=25, deadline=None)
@given(st.sets(st.integers(0, 29), max_size=30))
def test_split_valid_partitions_rows(bad_rows: set[int]) -> None:
    fin = pd.concat([valid_tables()["financials"]] * 8, ignore_index=True).head(30)
    fin["fiscal_year"] = np.arange(1991, 2021)
    fin.loc[sorted(bad_rows), "total_assets"] = -3.0
    valid, failures = split_valid("financials", fin)
    failed = {f.row for f in failures}
    assert failed == bad_rows
    assert set(valid.index) == set(range(30)) - bad_rows


# -- files -----------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_round_trip_through_files(tmp_path: Path, suffix: str) -> None:
    expected = {name: validate_table(name, frame) for name, frame in valid_tables().items()}
    for name, frame in expected.items():
        path = tmp_path / f"{name}{suffix}"
        (frame.to_parquet(path) if suffix == ".parquet" else frame.to_csv(path, index=False))
    sources = load_sources(tmp_path)
    assert set(sources) == set(SOURCE_TABLES)
    for name in SOURCE_TABLES:
        pd.testing.assert_frame_equal(sources[name], expected[name])
    truth = load_table("truth", tmp_path / f"truth{suffix}")
    pd.testing.assert_frame_equal(truth, expected["truth"])


def test_absent_tables_load_empty_with_their_columns(tmp_path: Path) -> None:
    valid_tables()["firms"].to_csv(tmp_path / "firms.csv", index=False)
    sources = load_sources(tmp_path)
    assert len(sources["firms"]) == 3
    assert sources["ip_assets"].empty
    assert list(sources["ip_assets"].columns) == list(TABLES["ip_assets"].columns)
    assert sources["ip_assets"]["filed_on"].dtype == DATE_DTYPE


def test_invalid_file_raises_schema_error(tmp_path: Path) -> None:
    fin = valid_tables()["financials"]
    fin.loc[3, "revenue"] = -5.0
    fin.to_csv(tmp_path / "financials.csv", index=False)
    with pytest.raises(
        SchemaError, match=r"'revenue' must be between 0 and 10000000; got -5.0 at row 3"
    ):
        load_sources(tmp_path)


def test_unknown_table_and_suffix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown table 'patents'"):
        validate_table("patents", pd.DataFrame())
    with pytest.raises(ValueError, match="suffix must be one of"):
        load_table("firms", tmp_path / "firms.xlsx")


# -- point in time ---------------------------------------------------------------------------
def test_known_on_rules() -> None:
    tables = {n: validate_table(n, f) for n, f in valid_tables().items()}
    assert KNOWN_ON["financials"].dates(tables["financials"]).iloc[0] == pd.Timestamp("2022-05-31")
    assert KNOWN_ON["tax_ratings"].dates(tables["tax_ratings"]).iloc[0] == pd.Timestamp(
        "2022-04-30"
    )
    assert KNOWN_ON["staffing"].dates(tables["staffing"]).iloc[1] == pd.Timestamp("2022-03-01")
    citations = VALUE_KNOWN_ON[("ip_assets", "forward_citations")].dates(tables["ip_assets"])
    assert citations.iloc[0] == pd.Timestamp("2023-06-30") and pd.isna(citations.iloc[2])
    assert KNOWN_ON["financials"].describe() == "fiscal_year + 1 year on 05-31"
    assert set(KNOWN_ON) == set(SOURCE_TABLES)


def test_every_known_on_column_exists() -> None:
    for name, rule in KNOWN_ON.items():
        assert rule.column in TABLES[name].columns
    for (name, column), rule in VALUE_KNOWN_ON.items():
        assert {column, rule.column} <= set(TABLES[name].columns)


def test_a_credit_event_repeated_in_a_file_fails_both_rows() -> None:
    """Credit events have no key but the whole record (and, when the report gives one, its
    record_id): the same event twice would count twice, as a request refuses it too."""
    events = valid_tables()["credit_events"]
    events = pd.concat([events, events.iloc[[0]]], ignore_index=True)
    err = schema_error("credit_events", events)
    assert [f.row for f in err.failures] == [0, 3]
    assert {f.rule for f in err.failures} == {WHOLE_RECORD_RULE}
    assert err.column == "credit_code, event_on, kind, amount, days_past_due, record_id"


def test_two_alike_credit_events_with_their_record_ids_are_two_records() -> None:
    events = valid_tables()["credit_events"]
    events = pd.concat([events, events.iloc[[0]]], ignore_index=True)
    events["record_id"] = ["R1", "R2", "R3", "R4"]
    valid, failures = split_valid("credit_events", events)
    assert failures == [] and len(valid) == 4


def test_a_file_may_leave_out_an_optional_column() -> None:
    events = valid_tables()["credit_events"]
    assert "record_id" not in events.columns
    valid = validate_table("credit_events", events)
    assert valid["record_id"].isna().all() and len(valid) == 3
