"""Model behaviour (Made-With-ML's tests/model): what credit practice demands of any champion.

Directional: one more granted invention patent, a cleared overdue, a better tax rating never
raise PD. Invariance: the firm's name or district alone never change PD. Each change is made
to the raw records and goes through the same feature code as training and serving.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.build import build_feature_matrix

N_FIRMS = 300


def _firm(market: dict[str, pd.DataFrame], code: str) -> dict[str, pd.DataFrame]:
    return {
        name: t[t["credit_code"] == code].reset_index(drop=True)
        for name, t in market.items()
        if "credit_code" in t.columns and name != "applications"
    }


@pytest.fixture(scope="module")
def cases(small_market, small_fit):
    """OOT applications with each firm's records, as a request would carry them."""
    data, fit = small_fit
    apps = small_market["applications"]
    oot_ids = set(data.ids[data.split.mask("oot")])
    sample = apps[apps["loan_id"].isin(oot_ids)].sample(N_FIRMS, random_state=0)
    out = []
    for _, app in sample.iterrows():
        out.append(
            (app.to_frame().T.reset_index(drop=True), _firm(small_market, app["credit_code"]))
        )
    return fit.model, out


def _pd(model, sources, app) -> float:
    X = build_feature_matrix(sources, app.astype({"amount": float, "term_months": int}))
    return float(model.score(X).pd[0])


def _changed(cases, change) -> tuple[np.ndarray, np.ndarray]:
    model, items = cases
    before, after = [], []
    for app, src in items:
        d = pd.Timestamp(app["applied_on"].iloc[0])
        changed = change({k: v.copy() for k, v in src.items()}, d)
        if changed is None:
            continue
        before.append(_pd(model, src, app))
        after.append(_pd(model, changed, app))
    assert len(before) >= 20, "too few applicable cases to test the behaviour"
    return np.array(before), np.array(after)


def test_one_more_granted_invention_patent_never_raises_pd(cases) -> None:
    def add_patent(src, d):
        ip = src["ip_assets"]
        if not (ip["filed_on"] < d).any():
            return None  # a first-ever filing turns 'no activity' into a date: another test
        new = ip.iloc[:1].copy()
        new[["ip_id", "ip_type", "acquired", "claims", "forward_citations"]] = [
            "NEW",
            "invention",
            False,
            max(12.0, float(ip["claims"].max(skipna=True) or 0)),
            np.nan,
        ]
        new["filed_on"] = d - pd.Timedelta(days=4 * 365)
        new["granted_on"] = d - pd.Timedelta(days=400)
        new["lapsed_on"] = pd.NaT
        new["pledged_on"] = pd.NaT
        src["ip_assets"] = pd.concat([ip, new], ignore_index=True)
        return src

    before, after = _changed(cases, add_patent)
    assert np.all(after <= before + 1e-12)
    assert np.any(after < before)  # the change matters somewhere, or the test proves nothing


def test_a_cleared_overdue_never_raises_pd(cases) -> None:
    def clear_latest_overdue(src, d):
        ev = src["credit_events"]
        overdue = ev.index[(ev["kind"] == "overdue") & (ev["event_on"] < d)]
        if len(overdue) == 0:
            return None
        latest = ev.loc[overdue, "event_on"].idxmax()
        if ev["event_on"].min() == ev.loc[latest, "event_on"]:
            return None  # it opens the credit file: clearing it also shortens the history
        src["credit_events"] = ev.drop(index=latest).reset_index(drop=True)
        return src

    before, after = _changed(cases, clear_latest_overdue)
    assert np.all(after <= before + 1e-12)
    assert np.any(after < before)


def test_a_better_tax_rating_never_raises_pd(cases) -> None:
    order = ["A", "B", "M", "C", "D"]

    def upgrade_latest(src, d):
        tax = src["tax_ratings"]
        known = tax.index[pd.to_datetime((tax["year"] + 1).astype(str) + "-04-30") < d]
        if len(known) == 0:
            return None
        latest = tax.loc[known, "year"].idxmax()
        if tax.loc[latest, "rating"] == "A":
            return None
        tax.loc[latest, "rating"] = order[order.index(tax.loc[latest, "rating"]) - 1]
        return src

    before, after = _changed(cases, upgrade_latest)
    assert np.all(after <= before + 1e-12)
    assert np.any(after < before)


@pytest.mark.parametrize(
    ("column", "value"), [("name", "上海某某信息技术有限公司"), ("district", "chongming")]
)
def test_name_or_district_alone_never_change_pd(cases, column: str, value: str) -> None:
    def rename(src, d):
        src["firms"][column] = value
        return src

    before, after = _changed(cases, rename)
    np.testing.assert_array_equal(before, after)
