"""Point-in-time: rows dated on or after D never change a feature as of D.

Hypothesis picks an application and a seed; the seed plants new rows dated on/after D in
every table of that firm and rewrites every existing row not yet known at D. The features
of that application must not move. The batch build must equal the one-firm build.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.build import build_features
from synthetic import generate_market

N_FIRMS = 400


@pytest.fixture(scope="module")
def market() -> dict[str, pd.DataFrame]:
    return generate_market(n_firms=N_FIRMS, seed=11)


def _firm_sources(market: dict[str, pd.DataFrame], code: str) -> dict[str, pd.DataFrame]:
    return {
        name: t[t["credit_code"] == code].reset_index(drop=True)
        for name, t in market.items()
        if "credit_code" in t.columns
    }


def _future(rng: np.random.Generator, d: pd.Timestamp, n: int, max_days: int = 2_000) -> pd.Series:
    """n dates on or after D; often exactly D, since 'on D' is not 'before D'."""
    offsets = np.where(rng.random(n) < 0.4, 0, rng.integers(0, max_days, n))
    return pd.Series(d + pd.to_timedelta(offsets, unit="D"))


def _plant(src: dict[str, pd.DataFrame], d: pd.Timestamp, rng: np.random.Generator) -> dict:
    """The same firm with every not-yet-known fact rewritten and new future rows added."""
    out = {k: v.copy() for k, v in src.items()}
    code = src["firms"]["credit_code"].iloc[0]
    k = int(rng.integers(1, 4))

    firms = out["firms"]
    cert = firms["high_tech_cert_on"]
    if cert.isna().iloc[0] or cert.iloc[0] >= d:
        firms["high_tech_cert_on"] = _future(rng, d, 1).to_numpy()

    ip = out["ip_assets"]
    future_filed = ip["filed_on"] >= d
    ip.loc[future_filed, "ip_type"] = rng.choice(["invention", "trademark"], future_filed.sum())
    ip.loc[future_filed, "claims"] = rng.integers(1, 50, future_filed.sum())
    later = ip["granted_on"] >= d
    ip.loc[later, "granted_on"] = ip.loc[later, "granted_on"] + pd.Timedelta(days=30)
    not_lapsed = ip["lapsed_on"].isna() | (ip["lapsed_on"] >= d)
    base = ip["granted_on"].where(ip["granted_on"] > d, d)
    ip.loc[not_lapsed, "lapsed_on"] = base[not_lapsed] + pd.Timedelta(
        days=int(rng.integers(0, 900))
    )
    not_pledged = ip["pledged_on"].isna() | (ip["pledged_on"] >= d)
    ip.loc[not_pledged, "pledged_on"] = base[not_pledged] + pd.Timedelta(
        days=int(rng.integers(0, 900))
    )
    unknown_citations = ip["granted_on"].isna() | (ip["granted_on"] + pd.DateOffset(months=36) >= d)
    ip.loc[unknown_citations, "forward_citations"] = rng.integers(0, 99, unknown_citations.sum())
    filed = _future(rng, d, k)
    new_ip = pd.DataFrame(
        {
            "credit_code": code,
            "ip_id": [f"FUTURE{i}" for i in range(k)],
            "ip_type": rng.choice(["invention", "utility_model", "software_copyright"], k),
            "filed_on": filed,
            "granted_on": filed + pd.Timedelta(days=200),
            "lapsed_on": pd.NaT,
            "claims": 9.0,
            "forward_citations": 40.0,
            "acquired": True,
            "pledged_on": filed + pd.Timedelta(days=300),
        }
    )
    out["ip_assets"] = pd.concat([ip, new_ip], ignore_index=True)

    fin = out["financials"]
    filed_year = d.year - 1 if d <= pd.Timestamp(d.year, 5, 31) else d.year
    unknown = fin["fiscal_year"] >= filed_year
    for col in ("revenue", "rd_expense", "total_liabilities", "operating_cash_flow"):
        fin.loc[unknown, col] = rng.uniform(0, 1e5, unknown.sum())
    years = [y for y in range(filed_year, filed_year + 3) if y not in set(fin["fiscal_year"])]
    new_fin = (
        fin.iloc[:0]
        .reindex(range(len(years)))
        .assign(
            credit_code=code,
            fiscal_year=years,
            revenue=1.0,
            rd_expense=1.0,
            total_assets=1.0,
            total_liabilities=1.0,
            operating_cash_flow=-1.0,
        )
    )
    out["financials"] = pd.concat([fin, new_fin], ignore_index=True)

    staff = out["staffing"]
    first_unknown = (d - pd.Timedelta(days=1)).to_period("M").to_timestamp()
    unknown = staff["month"] >= first_unknown
    staff.loc[unknown, ["employees", "tech_staff", "rd_staff"]] = 1
    months = pd.date_range(first_unknown, periods=3, freq="MS")
    months = [m for m in months if m not in set(staff["month"])]
    new_staff = (
        staff.iloc[:0]
        .reindex(range(len(months)))
        .assign(
            credit_code=code,
            month=months,
            employees=999,
            rd_staff=1,
            tech_staff=1,
            college_educated=1,
            social_insured=1,
        )
    )
    out["staffing"] = pd.concat([staff, new_staff], ignore_index=True)

    tax = out["tax_ratings"]
    rated_year = d.year - 1 if d <= pd.Timestamp(d.year, 4, 30) else d.year
    tax.loc[tax["year"] >= rated_year, "rating"] = "D"
    years = [y for y in range(rated_year, rated_year + 3) if y not in set(tax["year"])]
    out["tax_ratings"] = pd.concat(
        [tax, pd.DataFrame({"credit_code": code, "year": years, "rating": "D"})],
        ignore_index=True,
    )

    for name, date_col, extra in (
        ("credit_events", "event_on", {"kind": "overdue", "amount": 50.0, "days_past_due": 120.0}),
        ("financing_rounds", "closed_on", {"round": "B", "amount": 5e4, "lead_investor_tier": 1}),
        ("support_records", "event_on", {"kind": "innovation_fund", "amount": 300.0}),
    ):
        t = out[name]
        later = t[date_col] >= d
        t.loc[later, date_col] = t.loc[later, date_col] + pd.Timedelta(days=1)
        new = pd.DataFrame({"credit_code": code, date_col: _future(rng, d, k), **extra})
        out[name] = pd.concat([t, new], ignore_index=True)
    return out


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(app=st.integers(0, 10_000), seed=st.integers(0, 2**32 - 1))
def test_future_rows_change_no_feature(market, app: int, seed: int) -> None:
    apps = market["applications"]
    application = apps.iloc[[app % len(apps)]].reset_index(drop=True)
    d = application["applied_on"].iloc[0]
    src = _firm_sources(market, application["credit_code"].iloc[0])
    before = build_features(src, application)
    after = build_features(_plant(src, d, np.random.default_rng(seed)), application)
    pd.testing.assert_frame_equal(before, after)


def test_planting_does_change_features_when_dated_before_d(market) -> None:
    """Guards the guard: the same plant shifted one day earlier must move something."""
    apps = market["applications"]
    application = apps.iloc[[0]].reset_index(drop=True)
    d = application["applied_on"].iloc[0]
    src = _firm_sources(market, application["credit_code"].iloc[0])
    before = build_features(src, application)
    after = build_features(
        _plant(src, d - pd.Timedelta(days=400), np.random.default_rng(0)), application
    )
    assert not before.equals(after)


def test_batch_build_equals_one_firm_builds(market) -> None:
    apps = market["applications"].iloc[:60].reset_index(drop=True)
    batch = build_features(market, apps)
    for i in range(len(apps)):
        one = apps.iloc[[i]].reset_index(drop=True)
        single = build_features(_firm_sources(market, one["credit_code"].iloc[0]), one)
        pd.testing.assert_frame_equal(batch.iloc[[i]], single)
