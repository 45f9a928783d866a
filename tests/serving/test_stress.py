"""Stress from shocked records: the model's own answer on rewritten records, nothing else moves."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from features.build import build_feature_matrix
from features.registry import FEATURE_NAMES
from features.schemas import KNOWN_ON
from serving.model_source import from_registry
from serving.screening.part import ModelRef, rescore_shocked, screen_frames
from serving.screening.partition import ROW
from serving.screening.stress import Shock, default_shocks, exposed, load_shocks, shock_records
from tests.conftest import environment

TODAY = dt.date(2025, 6, 30)
EXPOSED = ("electronic_info", "advanced_manufacturing")


@pytest.fixture(scope="module")
def handle(registry):
    with environment(registry):
        return from_registry()


@pytest.fixture(scope="module")
def part_tables(small_market) -> dict[str, pd.DataFrame]:
    """The newest 1,500 applications and their firms' records, as a screening part holds them."""
    apps = small_market["applications"].sort_values("applied_on").tail(1_500)
    codes = set(apps["credit_code"])
    tables = {
        name: frame[frame["credit_code"].isin(codes)].reset_index(drop=True)
        for name, frame in small_market.items()
        if name != "truth"
    }
    tables["applications"] = apps.drop(columns="default_12m").reset_index(drop=True)
    return {name: frame.assign(**{ROW: np.arange(len(frame))}) for name, frame in tables.items()}


def _ref(handle) -> ModelRef:
    return ModelRef(handle.name, handle.version)


def test_halving_a_firms_revenue_moves_its_pd_as_the_model_says(part_tables, handle):
    """Revenue halved in the firm's records → the PD of the model on features rebuilt from them.

    ``cost_factor`` 1 and no receivables: orders halve, costs stay, so net profit falls by the
    lost revenue; the test rewrites the records itself and asks the model."""
    shock = Shock("halved", "营收减半", "revenue halved", EXPOSED, exposed_share=1.0)
    firms = part_tables["firms"]
    fin = part_tables["financials"]
    apps = part_tables["applications"]
    candidates = firms[firms["industry"].isin(EXPOSED)]["credit_code"]
    code = next(
        c
        for c in candidates
        if (fin["credit_code"] == c).sum() >= 2 and (apps["credit_code"] == c).sum() == 1
    )
    one = {n: t[t["credit_code"] == code].reset_index(drop=True) for n, t in part_tables.items()}
    model = handle.model
    base, _, _ = screen_frames(one, model, _ref(handle), TODAY)
    stressed = rescore_shocked(one, shock, model, TODAY)

    # the test's own rewrite: the latest fiscal year filed before the application, halved
    app = one["applications"].iloc[0]
    fy = one["financials"].copy()
    known = KNOWN_ON["financials"].dates(fy)
    latest = fy["fiscal_year"][known < app["applied_on"]].max()
    row = fy["fiscal_year"] == latest
    lost = fy.loc[row, "revenue"] / 2  # costs unchanged (cost_factor 1): profit falls as much
    fy.loc[row, "revenue"] -= lost
    fy.loc[row, "high_tech_revenue"] /= 2
    fy.loc[row, "net_profit"] -= lost
    sources = {n: t.drop(columns=ROW) for n, t in one.items() if n != "applications"}
    sources["financials"] = fy.drop(columns=ROW)
    apps_v = one["applications"].drop(columns=ROW)
    X_base = build_feature_matrix(
        {**sources, "financials": one["financials"].drop(columns=ROW)}, apps_v
    )
    X = build_feature_matrix(sources, apps_v)
    expected = model.scores_from_margin(model.contributions(X).sum(axis=1)).pd

    assert stressed["pd"].to_numpy() == pytest.approx(expected, rel=1e-12)
    assert stressed["pd"].iloc[0] != pytest.approx(base["pd"].iloc[0], rel=1e-9)
    revenue = FEATURE_NAMES.index("fin_revenue")
    assert X[0, revenue] == pytest.approx(X_base[0, revenue] / 2)


def test_unexposed_firms_do_not_move_and_exposed_ones_rise_on_average(part_tables, handle):
    """The default 2020 scenario through the full screening path on every firm of the part."""
    (shock,) = default_shocks()
    model, ref = handle.model, _ref(handle)
    base, _, _ = screen_frames(part_tables, model, ref, TODAY)
    shocked_only = shock_records(part_tables, shock)
    full = {n: t.copy() for n, t in part_tables.items()}
    hit_codes = set(shocked_only["firms"]["credit_code"])
    full["financials"] = pd.concat(
        [
            full["financials"][~full["financials"]["credit_code"].isin(hit_codes)],
            shocked_only["financials"],
        ]
    ).sort_values(ROW, ignore_index=True)
    everyone, _, _ = screen_frames(full, model, ref, TODAY)
    rescored = rescore_shocked(part_tables, shock, model, TODAY)

    merged = base.merge(everyone, on="loan_id", suffixes=("", "_s"))
    hit = merged["credit_code"].isin(hit_codes)
    assert len(merged) == len(base) and hit.any() and (~hit).any()
    # firms outside the shock: bit-identical answers when everyone is re-screened
    np.testing.assert_array_equal(merged.loc[~hit, "pd"], merged.loc[~hit, "pd_s"])
    assert set(merged.loc[~hit, "industry"]) - set(EXPOSED)  # unexposed industries are there
    # the exposed subset re-screened alone gives exactly what the whole re-screen gives
    by_loan = merged.set_index("loan_id")
    assert set(rescored["loan_id"]) == set(merged.loc[hit, "loan_id"])
    np.testing.assert_allclose(rescored["pd"], by_loan.loc[rescored["loan_id"], "pd_s"], rtol=1e-12)
    # and a 2020-like shock raises the exposed firms' risk on the whole
    assert merged.loc[hit, "pd_s"].mean() > merged.loc[hit, "pd"].mean()
    assert (merged.loc[hit, "grade_s"] >= merged.loc[hit, "grade"]).mean() > 0.5


def test_exposure_is_stable_and_within_the_chosen_industries(part_tables):
    (shock,) = default_shocks()
    firms = part_tables["firms"]
    hit = exposed(firms["credit_code"], firms["industry"], shock)
    assert set(firms["industry"][hit]) <= set(shock.industries)
    in_ind = firms["industry"].isin(shock.industries)
    assert 0.35 < hit.sum() / in_ind.sum() < 0.65  # exposed_share 0.5
    reordered = firms.iloc[::-1]
    again = exposed(reordered["credit_code"], reordered["industry"], shock)[::-1]
    np.testing.assert_array_equal(hit, again)


def test_shocked_records_keep_the_contract(part_tables):
    (shock,) = default_shocks()
    fin = shock_records(part_tables, shock)["financials"]
    before = part_tables["financials"].set_index(ROW).loc[fin[ROW]]
    changed = (fin.set_index(ROW)["revenue"] != before["revenue"]).to_numpy()
    assert changed.any()
    assert (fin["high_tech_revenue"] <= fin["revenue"]).all()
    assert (fin["current_assets"] <= fin["total_assets"]).all()
    one_per_firm = fin[changed].groupby("credit_code").size()
    assert (one_per_firm == 1).all()


def test_a_bad_scenario_file_names_the_key(tmp_path):
    path = tmp_path / "s.toml"
    head = '[scenario.x]\nlabel_zh = "x"\nlabel_en = "x"\nindustries = ["other"]\n'
    path.write_text(head + "revenue_factr = 0.5\n")
    with pytest.raises(ValueError, match="revenue_factr"):
        load_shocks(path)
    path.write_text('[scenario.x]\nindustries = ["other"]\n')
    with pytest.raises(ValueError, match=r"missing required key\(s\) \['label_en', 'label_zh'\]"):
        load_shocks(path)
    path.write_text(head + "revenue_factor = 1.5\n")
    with pytest.raises(ValueError, match=r"revenue_factor=1\.5 must be within \[0, 1\]"):
        load_shocks(path)
