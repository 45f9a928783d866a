"""Capital-constrained selection: every constraint holds exactly, reasons are true, near-optimal."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from serving.screening.allocate import AllocationParams, Limits, candidates, select
from serving.screening.allocation import allocate
from serving.screening.portfolio import PortfolioParams

#: The stated distance to the exact optimum (random instances of 40 loans, see docstring of
#: ``test_greedy_is_within_the_stated_distance_of_the_milp_optimum``).
WORST_RATIO = 0.85
MEAN_RATIO = 0.98


def screened_frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Rows shaped like ``screened.parquet``: skewed amounts, log-normal PDs, three bands."""
    return pd.DataFrame(
        {
            "loan_id": [f"L{i:06d}" for i in range(n)],
            "credit_code": [f"C{i % max(n - 3, 1):06d}" for i in range(n)],
            "product": rng.choice(["tdld", "xyd"], n),
            "amount": np.round(rng.lognormal(5.5, 0.8, n), 1),
            "guarantee": rng.choice(["none", "fund", "ip_pledge"], n),
            "industry": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "district": rng.choice(["x", "y", "z"], n, p=[0.5, 0.3, 0.2]),
            "pd": np.clip(rng.lognormal(np.log(0.02), 0.7, n), 1e-4, 0.5),
            "grade": rng.integers(1, 8, n),
            "decision": rng.choice(["approve", "review", "decline"], n, p=[0.8, 0.15, 0.05]),
        }
    )


def _fund(frame: pd.DataFrame, rng: np.random.Generator, **kw) -> PortfolioParams:
    approve = frame["amount"][frame["decision"] == "approve"].sum()
    return PortfolioParams(
        fund_capital=0.8 * approve * rng.uniform(0.3, 0.8) / 10,
        loss_budget=rng.uniform(0.03, 0.1),
        **kw,
    )


def _check_constraints(frame, selected, left, fund, alloc) -> None:
    """Every constraint recomputed from the output rows alone (not from the selector's sums)."""
    lgd = selected["guarantee"].map(fund.lgd)
    g = fund.coverage * selected["amount"]
    el = fund.coverage * selected["pd"] * lgd * selected["amount"]
    np.testing.assert_allclose(selected["guaranteed"], g)
    np.testing.assert_allclose(selected["fund_el"], el)
    capacity = fund.cap * fund.fund_capital
    assert g.sum() <= capacity
    assert el.sum() <= fund.loss_budget * fund.fund_capital
    assert g.groupby(selected["industry"]).sum().max() <= alloc.industry_limit * capacity
    assert g.groupby(selected["district"]).sum().max() <= alloc.district_limit * capacity
    bands = {"approve", "review"} if alloc.include_review else {"approve"}
    assert set(selected["decision"]) <= bands
    pool = frame[frame["decision"].isin(bands)]
    assert sorted(selected["loan_id"]) + sorted(left["loan_id"]) != []
    assert set(selected["loan_id"]).isdisjoint(left["loan_id"])
    assert set(selected["loan_id"]) | set(left["loan_id"]) == set(pool["loan_id"])
    # each left-out loan's reasons are exactly the constraints adding it would breach
    lg, lel = left["guaranteed"], left["fund_el"]
    by_ind = g.groupby(selected["industry"]).sum()
    by_dis = g.groupby(selected["district"]).sum()
    breach = pd.DataFrame(
        {
            "capital": g.sum() + lg > capacity,
            "loss_budget": el.sum() + lel > fund.loss_budget * fund.fund_capital,
            "industry": left["industry"].map(by_ind).astype(float).fillna(0) + lg
            > alloc.industry_limit * capacity,
            "district": left["district"].map(by_dis).astype(float).fillna(0) + lg
            > alloc.district_limit * capacity,
        }
    )
    expected = breach.apply(lambda r: ";".join(k for k, v in r.items() if v), axis=1)
    assert (expected != "").all(), "a left-out loan fits: the book is not maximal"
    assert list(left["reasons"]) == list(expected)
    assert left["reason_en"].str.len().gt(0).all() and left["reason_zh"].str.len().gt(0).all()


@pytest.mark.parametrize("objective", ["amount", "firms"])
@pytest.mark.parametrize("include_review", [False, True])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_constraint_holds_exactly(objective, include_review, seed):
    rng = np.random.default_rng(seed)
    frame = screened_frame(rng, 3_000)
    fund = _fund(frame, rng, sme_focused=seed == 3)
    alloc = AllocationParams(
        industry_limit=0.3, district_limit=0.45, objective=objective, include_review=include_review
    )
    selected, left = select(frame, fund, alloc)
    assert 0 < len(selected) < len(selected) + len(left)
    _check_constraints(frame, selected, left, fund, alloc)


def test_tight_concentration_limits_are_the_reasons():
    rng = np.random.default_rng(5)
    frame = screened_frame(rng, 2_000)
    fund = PortfolioParams(fund_capital=1e5, loss_budget=1.0)  # capital and budget never bind
    alloc = AllocationParams(industry_limit=0.02, district_limit=1.0)
    selected, left = select(frame, fund, alloc)
    _check_constraints(frame, selected, left, fund, alloc)
    assert set(left["reasons"]) == {"industry"}
    assert "industry concentration limit" in left["reason_en"].iloc[0]


def _optimum(pool: pd.DataFrame, limits: Limits, objective: str) -> float:
    g, e = pool["guaranteed"].to_numpy(), pool["fund_el"].to_numpy()
    rows, ub = [g, e], [limits.capacity, limits.loss_budget]
    for column, cap in (("industry", limits.per_industry), ("district", limits.per_district)):
        for value in pool[column].unique():
            rows.append(np.where(pool[column] == value, g, 0.0))
            ub.append(cap)
    c = -(g if objective == "amount" else np.ones(len(g)))
    res = milp(
        c,
        constraints=LinearConstraint(np.array(rows), -np.inf, ub),
        integrality=np.ones(len(g)),
        bounds=Bounds(0, 1),
    )
    assert res.status == 0
    # HiGHS stops within its default relative gap: its dual bound is ≥ the true optimum, so
    # ratios against it understate the selection's quality, never overstate it
    return -res.mip_dual_bound


@pytest.mark.parametrize("objective", ["amount", "firms"])
def test_greedy_is_within_the_stated_distance_of_the_milp_optimum(objective):
    """On 60 random instances of 40 approve-band loans (4 industries, 3 districts, capacity
    30–80 % of the band, loss budget 3–10 % of capital) the selection reaches at least 85 % of
    the exact optimum on every instance and 98 % on average. Measured: amount objective worst
    88.7 %, mean 99.1 % (200 instances); firms objective worst 95.2 %, mean 99.9 %. Small
    instances are the hard case: with 100 loans the worst amount instance is at 96 %."""
    rng = np.random.default_rng(2024)
    ratios = []
    for _ in range(60):
        frame = screened_frame(rng, 40).assign(decision="approve")
        fund = _fund(frame, rng)
        alloc = AllocationParams(industry_limit=0.35, district_limit=0.45, objective=objective)
        selected, left = select(frame, fund, alloc)
        _check_constraints(frame, selected, left, fund, alloc)
        got = selected["guaranteed"].sum() if objective == "amount" else len(selected)
        best = _optimum(candidates(frame, fund, alloc), Limits.of(fund, alloc), objective)
        assert got <= best * (1 + 1e-9)  # the bound is a bound
        ratios.append(got / best)
    assert min(ratios) >= WORST_RATIO
    assert np.mean(ratios) >= MEAN_RATIO


def test_allocate_writes_the_book_its_reasons_and_its_stress(tmp_path):
    rng = np.random.default_rng(11)
    frame = screened_frame(rng, 4_000)
    frame["industry"] = rng.choice(["electronic_info", "bio_medicine", "other"], len(frame))
    screening = tmp_path / "screening"
    screening.mkdir()
    frame.to_parquet(screening / "screened.parquet", index=False)
    exposed = frame[frame["industry"] == "electronic_info"].iloc[::2]
    stressed = pd.DataFrame(
        {
            "scenario": "export_shock_2020",
            "loan_id": exposed["loan_id"],
            "pd": np.minimum(exposed["pd"] * 3, 1.0),
            "grade": exposed["grade"] + 1,
            "decision": "review",
        }
    )
    stressed.to_parquet(screening / "stressed.parquet", index=False)
    fund = _fund(frame, rng)
    alloc = AllocationParams()
    result = allocate(screening, tmp_path / "out", fund, alloc)
    selected = pd.read_csv(result.files["selected"])
    left = pd.read_csv(result.files["left_out"], keep_default_na=False)
    report = json.loads(result.files["report_json"].read_text())
    book = report["book"]
    assert book["applications"] == len(selected)
    assert book["guaranteed"] == pytest.approx(fund.coverage * selected["amount"].sum())
    assert book["leverage"] == pytest.approx(book["guaranteed"] / fund.fund_capital)
    assert report["left_out"]["applications"] == len(left)
    assert sum(r["applications"] for r in report["left_out"]["by_first_reason"].values()) == len(
        left
    )
    stress = {s["scenario"]: s for s in report["stress"]}
    assert stress["base"]["fund_expected_loss"] == pytest.approx(selected["fund_el"].sum())
    shocked = stress["export_shock_2020"]
    hit = selected["loan_id"].isin(exposed["loan_id"])
    factor = np.where(hit, 3.0, 1.0)
    assert shocked["fund_expected_loss"] == pytest.approx((selected["fund_el"] * factor).sum())
    assert shocked["would_leave_approve_band"] == int(hit.sum()) > 0
    assert shocked["kind"] == "records" and stress["macro"]["kind"] == "factor"
    page = result.files["report_html"].read_text(encoding="utf-8")
    assert report["headline"]["headline_zh"] in page
    assert "Why loans were left out" in page


def test_selection_of_100k_applications_takes_seconds():
    rng = np.random.default_rng(0)
    frame = screened_frame(rng, 100_000)
    fund = _fund(frame, rng)
    start = time.perf_counter()
    selected, left = select(frame, fund, AllocationParams())
    seconds = time.perf_counter() - start
    _check_constraints(frame, selected, left, fund, AllocationParams())
    assert seconds < 30, seconds
