"""The synthetic market: contract, calibration targets, point-in-time truth, determinism.

Targets and their sources live in ``synthetic.calibration``; these tests read the
same constants, so a target moves in one place. One seeded market of N_FIRMS firms is shared
by the module (about 3 s to generate).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from features.loaders import load_sources, load_table, validate_table
from features.schemas import INDUSTRIES, SOURCE_TABLES, TABLES
from synthetic import calibration as cal
from synthetic import generate_market, write_market
from synthetic.dates import day
from synthetic.population import draw_population
from synthetic.truth import AsOfRecords, logit_terms

N_FIRMS = 12_000
SEED = 7
SHARE_TOLERANCE = 0.02  # industry shares: sampling error ≈ 0.004 at N_FIRMS
BAND_TOLERANCE = 0.03  # revenue and R&D bands: one fiscal year, noisier
LEVERAGE_TOLERANCE = 0.03
YEARS = range(int(cal.APPLICATIONS_FROM[:4]), int(cal.WINDOW_END[:4]) + 1)


@pytest.fixture(scope="module")
def market() -> dict[str, pd.DataFrame]:
    return generate_market(N_FIRMS, seed=SEED)


@pytest.fixture(scope="module")
def apps(market: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Applications with their true PD and the firm's founding date and age at application."""
    frame = market["applications"].merge(market["truth"], on="loan_id", validate="1:1")
    frame = frame.merge(market["firms"][["credit_code", "founded_on"]], on="credit_code")
    frame["age_years"] = (frame["applied_on"] - frame["founded_on"]).dt.days / 365.25
    return frame


@pytest.fixture(scope="module")
def full_year(market: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """FY LAST_FISCAL_YEAR accounts of firms that traded the whole year (the seed-001 basis)."""
    fin = market["financials"]
    fin = fin[fin["fiscal_year"] == cal.LAST_FISCAL_YEAR]
    fin = fin.merge(market["firms"][["credit_code", "founded_on"]], on="credit_code")
    return fin[fin["founded_on"].dt.year < cal.LAST_FISCAL_YEAR]


def band_shares(values: pd.Series, edges: tuple[float, ...]) -> np.ndarray:
    bands = np.searchsorted(np.asarray(edges), values.to_numpy(), side="right")
    return np.bincount(bands, minlength=len(edges) + 1) / len(values)


# -- the contract ---------------------------------------------------------------------------
def test_market_has_every_table_with_the_contract_columns(market):
    assert set(market) == set(TABLES)
    for name, frame in market.items():
        assert list(frame.columns) == list(TABLES[name].columns), name
        assert len(frame) > 0, name


@pytest.mark.parametrize("name", list(TABLES))
def test_tables_pass_the_contract_unchanged(market, name):
    frame = market[name]
    valid = validate_table(name, frame)
    assert len(valid) == len(frame)
    pd.testing.assert_series_equal(valid.dtypes, frame.dtypes)


def test_written_market_loads_as_sources(market, tmp_path: Path):
    small = generate_market(300, seed=1)
    paths = write_market(small, tmp_path)
    assert set(paths) == set(TABLES)
    sources = load_sources(tmp_path)
    assert set(sources) == set(SOURCE_TABLES)
    for name in SOURCE_TABLES:
        pd.testing.assert_frame_equal(sources[name], small[name])
    pd.testing.assert_frame_equal(load_table("truth", paths["truth"]), small["truth"])


def test_same_seed_same_market_other_seed_other_market():
    first, again, other = (generate_market(1_500, seed=s) for s in (3, 3, 4))
    for name in TABLES:
        pd.testing.assert_frame_equal(first[name], again[name])
    assert not first["firms"]["credit_code"].equals(other["firms"]["credit_code"])
    assert not first["financials"]["revenue"].equals(other["financials"]["revenue"])


def test_rejects_an_empty_market():
    with pytest.raises(ValueError, match="n_firms"):
        generate_market(0)


# -- dates ----------------------------------------------------------------------------------
DATED = {
    "ip_assets": ("filed_on", "granted_on", "lapsed_on", "pledged_on"),
    "credit_events": ("event_on",),
    "financing_rounds": ("closed_on",),
    "support_records": ("event_on",),
    "applications": ("applied_on",),
}


@pytest.mark.parametrize("name", list(DATED))
def test_records_fall_between_founding_and_the_window_end(market, name):
    founded = market["firms"].set_index("credit_code")["founded_on"]
    frame = market[name]
    since = frame["credit_code"].map(founded)
    for column in DATED[name]:
        dated = frame[column].notna()
        assert (frame.loc[dated, column] >= since[dated]).all(), column
        assert (frame.loc[dated, column] <= pd.Timestamp(cal.WINDOW_END)).all(), column


def test_periodic_records_start_in_the_founding_period(market):
    founded = market["firms"].set_index("credit_code")["founded_on"]
    staff = market["staffing"]
    first_month = staff["credit_code"].map(founded).dt.to_period("M").dt.start_time
    assert (staff["month"] >= first_month).all()
    assert staff["month"].min() == pd.Timestamp(f"{cal.FIRST_STAFFING_YEAR}-01-01")
    assert staff["month"].max() == pd.Timestamp(cal.WINDOW_END).to_period("M").start_time
    for name, column in (("financials", "fiscal_year"), ("tax_ratings", "year")):
        frame = market[name]
        assert (frame[column] >= frame["credit_code"].map(founded).dt.year).all(), name
        assert frame[column].between(cal.FIRST_RECORD_YEAR, cal.LAST_FISCAL_YEAR).all(), name


def test_ip_life_cycle_is_ordered(market):
    ip = market["ip_assets"]
    assert (ip["granted_on"].isna() | (ip["granted_on"] >= ip["filed_on"])).all()
    assert (ip["lapsed_on"].isna() | (ip["lapsed_on"] >= ip["granted_on"])).all()
    assert (ip["pledged_on"].isna() | (ip["pledged_on"] >= ip["granted_on"])).all()
    inv = ip[(ip["ip_type"] == "invention") & (ip["filed_on"] < "2020-01-01")]
    lag_years = (inv["granted_on"] - inv["filed_on"]).dt.days / 365.25
    assert 0.45 <= inv["granted_on"].notna().mean() <= 0.65  # ~50–60 % of inventions granted
    assert lag_years.dropna().between(1.4, 3.6).all()


# -- calibration ----------------------------------------------------------------------------
def test_industry_mix_follows_seed_001(market):
    assert set(cal.INDUSTRY_SHARES) == set(INDUSTRIES)
    shares = market["firms"]["industry"].value_counts(normalize=True)
    for industry, target in cal.INDUSTRY_SHARES.items():
        assert shares.get(industry, 0.0) == pytest.approx(target, abs=SHARE_TOLERANCE), industry


def test_revenue_bands_follow_seed_001(full_year):
    shares = band_shares(full_year["revenue"], cal.REVENUE_BAND_EDGES_WAN)
    np.testing.assert_allclose(shares, cal.REVENUE_BAND_SHARES, atol=BAND_TOLERANCE)
    assert shares[0] > 0.5  # seed 001: more than half below 20 m CNY


def test_rd_intensity_bands(full_year):
    ratio = full_year["rd_expense"] / full_year["revenue"]
    shares = band_shares(ratio, cal.RD_BAND_EDGES)
    np.testing.assert_allclose(shares, cal.RD_BAND_SHARES, atol=BAND_TOLERANCE)


def test_leverage_by_size_class_follows_seed_003(market):
    fin = market["financials"].merge(market["firms"][["credit_code", "founded_on"]])
    fin = fin[fin["founded_on"].dt.year < fin["fiscal_year"]]
    size = np.searchsorted(cal.SIZE_CLASS_EDGES_WAN, fin["revenue"], side="right")
    leverage = (fin["total_liabilities"] / fin["total_assets"]).groupby(size).mean()
    for k, (name, target) in enumerate(cal.LEVERAGE_BY_SIZE.items()):
        assert leverage[k] == pytest.approx(target, abs=LEVERAGE_TOLERANCE), name
    assert leverage[1] < min(leverage[0], leverage[2])  # U-shape: small firms borrow least


def test_tax_rating_shares(market):
    shares = market["tax_ratings"]["rating"].value_counts(normalize=True)
    for rating, target in cal.TAX_RATING_SHARES.items():
        assert shares[rating] == pytest.approx(target, abs=0.03), rating


def test_new_firms_are_rated_m(market):
    tax = market["tax_ratings"].merge(market["firms"][["credit_code", "founded_on"]])
    first_year = tax[tax["year"] == tax["founded_on"].dt.year]
    assert (first_year["rating"] == "M").all()


def test_weak_ratings_go_with_adverse_records(market):
    events = market["credit_events"]
    dishonest = set(events.loc[events["kind"] == "enforcement_dishonest", "credit_code"])
    tax = market["tax_ratings"]
    flagged = tax["credit_code"].isin(dishonest)
    bad = tax["rating"].isin(["C", "D"])
    assert bad[flagged].mean() > 3 * bad[~flagged].mean()


def test_staff_structure(market):
    staff = market["staffing"]
    assert (staff["tech_staff"] >= staff["rd_staff"]).all()
    latest = staff.groupby("credit_code").tail(1)
    rd_share = latest["rd_staff"] / latest["employees"]
    assert 0.20 <= rd_share.mean() <= 0.30
    assert rd_share.mean() == pytest.approx(cal.RD_STAFF_SHARE_MEAN, abs=0.03)
    assert (rd_share >= 0.5).mean() > 0.01  # some firms like seed 000's (≈ 50 %, max 70 %)
    college = latest["college_educated"] / latest["employees"]
    above = (college >= cal.COLLEGE_SHARE_FLOOR).mean()
    assert above == pytest.approx(cal.COLLEGE_ABOVE_FLOOR_SHARE, abs=0.04)


@pytest.mark.slow
def test_thin_files(market):
    """Among firms old enough to have filed, the thin-file shares (some patchy filers too)."""
    firms = market["firms"]
    codes = firms.loc[firms["founded_on"].dt.year < cal.LAST_FISCAL_YEAR, "credit_code"]
    no_financials = 1 - codes.isin(market["financials"]["credit_code"]).mean()
    no_staffing = 1 - codes.isin(market["staffing"]["credit_code"]).mean()
    assert no_financials == pytest.approx(cal.THIN_FINANCIALS_SHARE, abs=0.015)
    assert no_staffing == pytest.approx(cal.THIN_STAFFING_SHARE, abs=0.015)
    filed = market["financials"].groupby("credit_code").size()
    first = firms.set_index("credit_code")["founded_on"].dt.year.clip(lower=cal.FIRST_RECORD_YEAR)
    expected = cal.LAST_FISCAL_YEAR - first.reindex(filed.index) + 1
    assert 0.02 < (filed < expected).mean() < 0.1  # patchy filers miss some years


def test_rounds_in_stage_order_with_gaps(market):
    rounds = market["financing_rounds"]
    backed = rounds["credit_code"].nunique() / len(market["firms"])
    assert backed == pytest.approx(cal.VC_BACKED_SHARE, abs=0.025)
    stage = rounds["round"].map({"seed": 0, "angel": 1, "A": 2, "B": 3, "C+": 4})
    staged = rounds[stage.notna()].assign(stage=stage)  # strategic rounds have no stage
    step = staged.groupby("credit_code")["stage"].diff().dropna()
    assert (step >= 0).all()
    gap_months = rounds.groupby("credit_code")["closed_on"].diff().dropna().dt.days / 30.4375
    low, high = cal.ROUND_GAP_MONTHS
    assert gap_months.between(low - 0.1, high + 0.1).all()


def test_adverse_events_and_support_track_health(market, apps):
    """A firm with a 90+ overdue before applying has fewer support records and more defaults."""
    events = market["credit_events"]
    severe = set(events.loc[events["days_past_due"] >= 90, "credit_code"])
    support = market["support_records"]
    per_firm = support[support["kind"] != "tax_relief"].groupby("credit_code").size()
    per_firm = per_firm.reindex(market["firms"]["credit_code"], fill_value=0)
    in_severe = per_firm.index.isin(severe)
    assert per_firm[in_severe].mean() < per_firm[~in_severe].mean()
    assert (per_firm > 0).mean() < 0.9  # support is not a guarantee
    assert (
        apps.loc[apps["credit_code"].isin(severe), "default_12m"].mean()
        > 1.5 * apps["default_12m"].mean()
    )


# -- applications and defaults --------------------------------------------------------------
def test_about_one_application_per_firm(market):
    apps = market["applications"]
    per_firm = len(apps) / len(market["firms"])
    assert per_firm == pytest.approx(cal.APPLICATIONS_PER_FIRM, abs=0.1)
    counts = apps["credit_code"].value_counts()
    assert (counts > 1).any()
    assert len(counts) < 0.8 * len(market["firms"])  # many firms never apply


def test_each_product_every_year(apps):
    table = pd.crosstab(apps["applied_on"].dt.year, apps["product"])
    assert list(table.index) == list(YEARS)
    assert (table > 0).all().all()
    assert apps["applied_on"].min() >= pd.Timestamp(cal.APPLICATIONS_FROM)


def test_tdld_applicants_are_younger_riskier_and_vc_backed(market, apps):
    by_product = apps.groupby("product")
    assert by_product["age_years"].median()["tdld"] < by_product["age_years"].median()["xyd"]
    assert by_product["true_pd"].mean()["tdld"] > by_product["true_pd"].mean()["xyd"]
    assert by_product["default_12m"].mean()["tdld"] > by_product["default_12m"].mean()["xyd"]
    first_round = market["financing_rounds"].groupby("credit_code")["closed_on"].min()
    tdld = apps[apps["product"] == "tdld"]
    with_round = tdld["credit_code"].map(first_round) < tdld["applied_on"]
    assert with_round.mean() >= cal.TDLD_WITH_ROUND_SHARE


def test_xyd_applicants_have_richer_public_credit_files(market, apps):
    tax = market["tax_ratings"].merge(apps[["loan_id", "credit_code", "applied_on", "product"]])
    known = tax[tax["year"] < tax["applied_on"].dt.year - 1]
    years = known.groupby("loan_id").size().reindex(apps["loan_id"], fill_value=0)
    per_product = years.groupby(apps.set_index("loan_id")["product"]).mean()
    assert per_product["xyd"] > per_product["tdld"]


def test_default_rate_and_truth(apps):
    assert apps["true_pd"].between(0, 1, inclusive="neither").all()
    low, high = cal.DEFAULT_RATE_RANGE
    assert low <= apps["default_12m"].mean() <= high
    assert apps["true_pd"].mean() == pytest.approx(cal.DEFAULT_RATE_TARGET, abs=0.01)
    auc = roc_auc_score(apps["default_12m"], apps["true_pd"])
    assert cal.ORACLE_AUC_RANGE[0] <= auc <= cal.ORACLE_AUC_RANGE[1]


def test_2020_shock_raises_defaults(apps):
    rate = apps.groupby(apps["applied_on"].dt.year)["true_pd"].mean()
    assert rate[[2020, 2021]].mean() > rate[[2018, 2019]].mean()


def test_a_default_is_written_into_the_credit_file(market, apps):
    """Every default leaves a 90+ overdue reported within 12 months + 180 days of applying."""
    defaults = apps[(apps["default_12m"] == 1) & (apps["applied_on"] < "2023-06-01")]
    assert len(defaults) > 50
    overdue = market["credit_events"]
    overdue = overdue[(overdue["kind"] == "overdue") & (overdue["days_past_due"] >= 90)]
    pairs = defaults[["loan_id", "credit_code", "applied_on"]].merge(overdue, on="credit_code")
    lag = (pairs["event_on"] - pairs["applied_on"]).dt.days
    hit = pairs[(lag > 90) & (lag <= 365 + 180)]
    assert set(hit["loan_id"]) == set(defaults["loan_id"])


def test_ip_pledge_loans_register_pledges_after_applying(market, apps):
    pledges = market["ip_assets"].dropna(subset=["pledged_on"])[["credit_code", "pledged_on"]]
    pairs = apps[["loan_id", "credit_code", "applied_on", "guarantee"]].merge(pledges)
    lag = (pairs["pledged_on"] - pairs["applied_on"]).dt.days
    pledged = set(pairs.loc[lag.between(7, 45), "loan_id"])
    with_pledge = apps["loan_id"].isin(pledged).groupby(apps["guarantee"]).mean()
    assert with_pledge["ip_pledge"] > 0.8
    assert with_pledge["none"] < 0.1


@pytest.mark.parametrize("column", ["district", "registered_capital"])
def test_noise_columns_carry_no_risk(market, apps, column):
    values = apps["credit_code"].map(market["firms"].set_index("credit_code")[column])
    codes = pd.factorize(values, sort=True)[0]
    auc = roc_auc_score(apps["default_12m"], codes)
    assert auc == pytest.approx(0.5, abs=0.04)


# -- the true PD reads only the past --------------------------------------------------------
def _one_firm_records(overdue_on: int, fiscal_year: int) -> AsOfRecords:
    pop = draw_population(1, np.random.default_rng(0))
    one = np.zeros(1, dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    financials = {
        "firm": one,
        "fiscal_year": np.array([fiscal_year]),
        "revenue": np.array([1000.0]),
        "rd_expense": np.array([10.0]),
        "total_assets": np.array([800.0]),
        "total_liabilities": np.array([700.0]),
        "current_assets": np.array([400.0]),
        "current_liabilities": np.array([500.0]),
        "operating_cash_flow": np.array([-200.0]),
    }
    staffing = {
        c: empty
        for c in ("firm", "month", "employees", "tech_staff", "college_educated", "social_insured")
    }
    ip = {
        "firm": empty,
        "ip_type": np.array([], dtype=str),
        "granted_on": empty,
        "lapsed_on": empty,
        "forward_citations": np.zeros(0),
    }
    rounds = {"firm": empty, "closed_on": empty, "round": np.array([], dtype=str)}
    support = {"firm": empty, "event_on": empty, "kind": np.array([], dtype=str)}
    events = {
        "firm": one,
        "event_on": np.array([overdue_on]),
        "kind": np.array(["overdue"]),
        "days_past_due": np.array([120.0]),
    }
    tax = (empty, empty, empty)
    return AsOfRecords(pop, financials, staffing, ip, rounds, support, events, tax)


def test_truth_reads_records_only_once_known():
    overdue_on = day("2021-03-10")
    records = _one_firm_records(overdue_on, fiscal_year=2020)
    firm = np.zeros(3, dtype=np.int64)
    when = np.array([overdue_on, overdue_on + 1, day("2021-06-01")])
    readings = records.read(firm, when, amount=np.full(3, 100.0))
    assert list(readings.dpd_max_24m) == [0.0, 120.0, 120.0]  # known strictly after its day
    assert np.isnan(readings.debt_to_assets[:2]).all()  # FY2020 filed by 2021-05-31
    assert readings.debt_to_assets[2] == pytest.approx(700 / 800)
    terms = logit_terms(readings)
    assert terms["credit"][1] > terms["credit"][0]
    assert terms["thin_file"][2] < terms["thin_file"][0]


def test_truth_treats_missing_as_thin_file_not_error():
    records = _one_firm_records(day("2019-01-01"), fiscal_year=2022)
    readings = records.read(
        np.zeros(1, dtype=np.int64), np.array([day("2020-01-01")]), amount=np.array([100.0])
    )
    terms = logit_terms(readings)
    assert all(np.isfinite(v).all() for v in terms.values())
    assert np.isnan(readings.months_since_round[0])  # no round yet
    assert terms["financing"][0] == 0.0
