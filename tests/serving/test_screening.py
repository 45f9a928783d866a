"""Batch screening: same answers as the service, every row accounted for, resume, Dask, report."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.credit_code import generate_codes
from serving.model_source import from_registry
from serving.scoring import Scorer
from serving.screening.part import ModelRef
from serving.screening.partition import ScreenInputs, part_of
from serving.screening.portfolio import PortfolioParams
from serving.screening.run import ResumeMismatch, screen
from synthetic import write_market
from tests.conftest import environment

TODAY = dt.date(2025, 6, 30)
CHUNK = 700


@pytest.fixture(scope="module")
def handle(registry):
    with environment(registry):
        return from_registry()


@pytest.fixture(scope="module")
def dirty_market(small_market, tmp_path_factory) -> tuple[Path, dict[str, object]]:
    """The newest 2,500 applications of the small market, with planted bad rows.

    Returns the directory and what was planted where (row positions in the written files).
    """
    tables = {k: v.copy() for k, v in small_market.items() if k != "truth"}
    apps = tables["applications"].sort_values("applied_on").tail(2_500).reset_index(drop=True)
    planted: dict[str, object] = {}
    # an application whose credit code has a wrong check character
    code = apps.loc[10, "credit_code"]
    apps.loc[10, "credit_code"] = code[:-1] + ("0" if code[-1] != "0" else "1")
    planted["bad_code_row"] = 10
    # negative amount
    apps.loc[20, "amount"] = -5.0
    planted["negative_amount_row"] = 20
    # a firm nobody knows (valid code)
    apps.loc[30, "credit_code"] = generate_codes(1, np.random.default_rng(99))[0]
    planted["unknown_firm_row"] = 30
    # an as-of date after "today"
    apps.loc[40, "applied_on"] = pd.Timestamp(TODAY) + pd.Timedelta(days=3)
    planted["future_row"] = 40
    # a broken IP record (granted before filed) rejects its firm's applications
    ip = tables["ip_assets"]
    victim = apps.loc[50, "credit_code"]
    pos = (
        int(np.flatnonzero(ip["credit_code"].to_numpy() == victim)[0])
        if (ip["credit_code"] == victim).any()
        else None
    )
    if pos is None:
        victim = next(c for c in apps["credit_code"][51:] if (ip["credit_code"] == c).any())
        pos = int(np.flatnonzero(ip["credit_code"].to_numpy() == victim)[0])
    ip.loc[ip.index[pos], "granted_on"] = ip.iloc[pos]["filed_on"] - pd.Timedelta(days=30)
    planted["broken_firm"] = victim
    planted["broken_ip_row"] = pos
    tables["applications"] = apps
    out = tmp_path_factory.mktemp("dirty")
    write_market(tables, out)
    return out, planted


def _run(market: Path, out: Path, handle, **kwargs):
    return screen(
        ScreenInputs.from_paths(market),
        out,
        handle.model,
        ModelRef(handle.name, handle.version),
        chunk=kwargs.pop("chunk", CHUNK),
        today=TODAY,
        **kwargs,
    )


@pytest.fixture(scope="module")
def screened(dirty_market, handle, tmp_path_factory):
    market, _ = dirty_market
    return _run(market, tmp_path_factory.mktemp("screened"), handle)


def test_every_application_is_scored_or_rejected(screened, dirty_market):
    _, planted = dirty_market
    c = screened.counts
    out = pd.read_parquet(screened.files["parquet"])
    errors = pd.read_csv(screened.files["errors"])
    assert c["applications_read"] == 2_500
    assert c["applications_scored"] + c["applications_rejected"] == c["applications_read"]
    assert len(out) == c["applications_scored"]
    assert out["loan_id"].is_unique
    rejected = errors[errors["table"] == "applications"]
    assert rejected["row"].nunique() == c["applications_rejected"]
    assert set(out["loan_id"]).isdisjoint(set(rejected["loan_id"].dropna()))
    for key in ("bad_code_row", "negative_amount_row", "unknown_firm_row", "future_row"):
        assert planted[key] in set(rejected["row"]), key
    by_row = rejected.set_index("row")
    assert "GB 32100-2015" in by_row.loc[planted["bad_code_row"], "rule"]
    assert by_row.loc[planted["negative_amount_row"], "column"] == "amount"
    assert "not found" in by_row.loc[planted["unknown_firm_row"], "rule"]
    assert "future" in by_row.loc[planted["future_row"], "rule"]
    assert by_row.loc[planted["future_row"], "column"] == "applied_on"


def test_a_broken_record_is_reported_and_rejects_only_its_firm(screened, dirty_market):
    _, planted = dirty_market
    errors = pd.read_csv(screened.files["errors"])
    ip_err = errors[errors["table"] == "ip_assets"]
    assert list(ip_err["row"]) == [planted["broken_ip_row"]]
    assert ip_err["column"].iloc[0] == "granted_on"
    firm_apps = errors[
        (errors["table"] == "applications") & (errors["credit_code"] == planted["broken_firm"])
    ]
    assert len(firm_apps) >= 1
    assert firm_apps["rule"].str.contains(f"ip_assets row {planted['broken_ip_row']}").all()
    out = pd.read_parquet(screened.files["parquet"])
    assert planted["broken_firm"] not in set(out["credit_code"])


def test_records_are_accounted_for(screened, small_market):
    c = screened.counts
    for name in ("ip_assets", "financials", "credit_events"):
        assert c[f"{name}_read"] == len(small_market[name])
    sources = sum(
        c[f"{n}_read"] - c[f"{n}_invalid"]
        for n in (
            "ip_assets",
            "financials",
            "staffing",
            "credit_events",
            "tax_ratings",
            "financing_rounds",
            "support_records",
        )
        if f"{n}_read" in c
    )
    assert c["records_used"] + c["records_future"] + c["records_without_application"] == sources
    assert c["records_future"] > 0


def test_batch_answers_equal_the_service(screened, small_market, handle):
    """Same PD, score, grade, decision, percentile and leading reasons as ``/score``."""
    from serving.examples import request_from_frames
    from serving.schemas import ScoreRequest

    out = pd.read_parquet(screened.files["parquet"]).set_index("loan_id")
    apps = small_market["applications"].set_index("loan_id", drop=False)
    scorer = Scorer(handle, audit=None)
    for loan_id in out.index[:: max(len(out) // 25, 1)]:
        body = request_from_frames(small_market, apps.loc[loan_id])
        request = ScoreRequest.model_validate(body, context={"today": TODAY})
        served = scorer.score(request)
        row = out.loc[loan_id]
        assert row["pd"] == pytest.approx(served.pd, rel=1e-12)
        assert row["score"] == pytest.approx(served.score, rel=1e-12)
        assert row["grade"] == served.grade
        assert row["decision"] == served.decision
        assert row["peer_percentile"] == pytest.approx(served.peer_percentile)
        assert row["ignored_future_records"] == served.ignored_future_total
        for k, reason in enumerate(served.reasons.raise_risk[:3], start=1):
            assert row[f"reason_{k}_zh"] == reason.zh
            assert row[f"reason_{k}_en"] == reason.en


def test_csv_output_matches_parquet(screened):
    pq_out = pd.read_parquet(screened.files["parquet"])
    csv_out = pd.read_csv(screened.files["csv"], dtype={"credit_code": str, "loan_id": str})
    assert list(csv_out["loan_id"]) == list(pq_out["loan_id"])
    np.testing.assert_allclose(csv_out["pd"], pq_out["pd"], rtol=1e-12)


def test_portfolio_report_adds_up(screened):
    out = pd.read_parquet(screened.files["parquet"])
    report = json.loads(screened.files["report_json"].read_text())
    params = PortfolioParams()
    lgd = out["guarantee"].map(params.lgd)
    assert report["applications"] == len(out)
    assert report["expected_loss"]["total"] == pytest.approx(
        (out["pd"] * lgd * out["amount"]).sum()
    )
    approved = out[out["decision"] == "approve"]
    band = report["approve_band"]
    assert band["applications"] == len(approved)
    assert band["leverage"] == pytest.approx(
        params.coverage * approved["amount"].sum() / params.fund_capital
    )
    assert sum(g["all"] for g in report["grades"]) == len(out)
    stress = {s["scenario"]: s for s in report["stress"]}
    assert stress["base"]["approve_applications"] == len(approved)
    assert stress["macro"]["approve_applications"] <= len(approved)
    assert stress["macro"]["expected_loss"] > stress["base"]["expected_loss"]
    assert stress["base"]["expected_loss"] < stress["industry_shock"]["expected_loss"]
    top = report["concentration"]["industry"]["largest"][0]
    assert top["amount"] == pytest.approx(approved.groupby("industry")["amount"].sum().max())
    page = screened.files["report_html"].read_text(encoding="utf-8")
    assert page.count("<img") >= 3 and "担保放大倍数" in page and "Stress scenarios" in page
    # the headline judges the approve band against the band and the loss budget
    assert band["fundable"] == (
        band["leverage"] <= params.cap and band["expected_loss_to_capital"] <= params.loss_budget
    )
    assert report["headline"]["headline_en"] in page and report["headline"]["headline_zh"] in page
    # shocked records: migration of the re-scored applications and the EL they carry
    stressed = pd.read_parquet(screened.files["stressed"])
    (migration,) = report["migration"]
    assert migration["exposed_applications"] == len(stressed) > 0
    moves = migration["downgraded"] + migration["unchanged"] + migration["upgraded"]
    assert moves == len(stressed)
    stressed_pd = out.set_index("loan_id")["pd"].copy()
    stressed_pd[stressed["loan_id"]] = stressed["pd"].to_numpy()
    by_loan = out.set_index("loan_id")
    expected = (stressed_pd * by_loan["guarantee"].map(params.lgd) * by_loan["amount"]).sum()
    assert stress["export_shock_2020"]["expected_loss"] == pytest.approx(expected)
    assert stress["export_shock_2020"]["expected_loss"] > stress["base"]["expected_loss"]


class Interrupt(Exception):
    pass


def test_an_interrupted_run_resumes_without_redoing_or_duplicating(
    dirty_market, handle, screened, tmp_path
):
    market, _ = dirty_market
    calls = []

    def progress(_total):
        def advance(n):
            calls.append(n)
            if len(calls) == 2:
                raise Interrupt

        return advance

    with pytest.raises(Interrupt):
        _run(market, tmp_path, handle, progress=progress, chunk=250)
    done = {p: p.stat().st_mtime_ns for p in tmp_path.glob("work/parts/*/done/results.parquet")}
    resumed = _run(market, tmp_path, handle, chunk=250)
    # parts already running when it stopped were finished and committed, the rest were not
    assert len(done) == resumed.resumed_parts
    assert 2 <= resumed.resumed_parts < resumed.parts
    assert all(p.stat().st_mtime_ns == t for p, t in done.items())  # not redone
    by_loan = ["loan_id"]
    expected = pd.read_parquet(screened.files["parquet"]).sort_values(by_loan, ignore_index=True)
    got = pd.read_parquet(resumed.files["parquet"])
    assert got["loan_id"].is_unique
    pd.testing.assert_frame_equal(got.sort_values(by_loan, ignore_index=True), expected)
    assert resumed.counts == screened.counts


def test_a_run_with_other_settings_does_not_resume(dirty_market, handle, tmp_path):
    market, _ = dirty_market
    _run(market, tmp_path, handle, chunk=5_000)
    with pytest.raises(ResumeMismatch, match="params"):
        _run(market, tmp_path, handle, chunk=5_000, params=PortfolioParams(fund_capital=1.0))
    again = _run(
        market,
        tmp_path,
        handle,
        chunk=5_000,
        params=PortfolioParams(fund_capital=1.0),
        restart=True,
    )
    assert again.resumed_parts == 0


def test_csv_inputs_screen_like_parquet(dirty_market, handle, screened, tmp_path):
    market, _ = dirty_market
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    for path in market.glob("*.parquet"):
        pd.read_parquet(path).to_csv(csv_dir / f"{path.stem}.csv", index=False)
    got = _run(csv_dir, tmp_path / "out", handle)
    assert got.counts == screened.counts
    pd.testing.assert_frame_equal(
        pd.read_parquet(got.files["parquet"]), pd.read_parquet(screened.files["parquet"])
    )


def test_parts_hold_whole_firms():
    codes = np.array(["91310000MA1FL0EX2D", "91310000MA1FL0EX2D", None, "x", 5], dtype=object)
    parts = part_of(codes, 7)
    assert parts[0] == parts[1]
    assert ((parts >= 0) & (parts < 7)).all()
    np.testing.assert_array_equal(parts, part_of(codes, 7))


def test_dask_output_equals_single_process(dirty_market, handle, screened, tmp_path):
    market, _ = dirty_market
    got = _run(market, tmp_path, handle, engine="dask")
    pd.testing.assert_frame_equal(
        pd.read_parquet(got.files["parquet"]), pd.read_parquet(screened.files["parquet"])
    )
    assert got.counts == screened.counts
    shutil.rmtree(tmp_path / "work")


def test_cli_screens_and_logs_the_report_to_mlflow(registry, dirty_market, tmp_path, monkeypatch):
    import mlflow

    from techrisk.cli import main

    market, _ = dirty_market
    for key, value in registry.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "cli"
    code = main(
        [
            "screen",
            "--market",
            str(market),
            "--out",
            str(out),
            "--chunk",
            "5000",
            "--fund-capital",
            "20000",
            "--lgd",
            "none=0.7,fund=0.5,ip_pledge=0.4",
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    report = json.loads((out / "portfolio.json").read_text())
    assert report["params"]["fund_capital"] == 20_000
    assert report["params"]["lgd"] == {"none": 0.7, "fund": 0.5, "ip_pledge": 0.4}
    mlflow.set_tracking_uri(registry["MLFLOW_TRACKING_URI"])
    runs = mlflow.search_runs(experiment_names=["techrisk-screening"])
    assert len(runs) == 1
    run = runs.iloc[0]
    assert run["metrics.applications_scored"] == summary["counts"]["applications_scored"]
    assert run["params.fund_fund_capital"] == "20000.0"
    artifacts = mlflow.artifacts.list_artifacts(run_id=run["run_id"])
    assert {"portfolio.html", "portfolio.json", "errors.csv"} <= {a.path for a in artifacts}
    # The artifacts follow TECHRISK_ARTIFACT_DIR, not MLflow's ./mlruns default.
    assert run["artifact_uri"].startswith(Path(registry["TECHRISK_ARTIFACT_DIR"]).as_uri())
    assert not (tmp_path / "mlruns").exists()
    assert run["metrics.approve_fundable"] == float(report["approve_band"]["fundable"])

    # the fund then selects its book from the screening, with its own figures
    fund = ["--fund-capital", "2000", "--sme-focused", "--loss-budget", "0.05"]
    limits = ["--industry-limit", "0.4", "--objective", "firms"]
    code = main(["allocate", "--screening", str(out), *fund, *limits])
    assert code == 0
    allocation = json.loads((out / "allocation.json").read_text())
    selected = pd.read_csv(out / "selected.csv")
    left = pd.read_csv(out / "left_out.csv")
    assert allocation["params"]["leverage_cap"] == 15.0
    assert allocation["params"]["allocation"]["objective"] == "firms"
    assert allocation["book"]["applications"] == len(selected) > 0
    assert len(selected) + len(left) == int(
        (pd.read_parquet(out / "screened.parquet")["decision"] == "approve").sum()
    )
    assert selected["guaranteed"].sum() <= 15.0 * 2000
    assert {s["scenario"] for s in allocation["stress"]} >= {"base", "macro", "export_shock_2020"}


def test_cli_names_a_missing_column(dirty_market, registry, tmp_path, monkeypatch, capsys):
    from techrisk.cli import main

    market, _ = dirty_market
    broken = tmp_path / "m"
    shutil.copytree(market, broken)
    pd.read_parquet(broken / "firms.parquet").drop(columns="industry").to_parquet(
        broken / "firms.parquet"
    )
    for key, value in registry.items():
        monkeypatch.setenv(key, value)
    assert main(["screen", "--market", str(broken), "--out", str(tmp_path / "o")]) == 2
    said = capsys.readouterr().err.strip()
    assert said.startswith("techrisk screen: error: ")
    assert "firms: column 'industry' is required but missing" in said


def test_screening_reasons_word_the_service_reasons(handle, small_market):
    """Screening's kernel calls (numbers for all rows at once, then three risk reasons per row
    as columns) word each row's risks as the service's call (five each way, one row) does."""
    from features.build import build_feature_matrix
    from models.kernel import risk_columns, score

    model = handle.model
    apps = small_market["applications"].tail(300)
    X = build_feature_matrix(small_market, apps)
    products = apps["product"].to_numpy()
    batch = score(model, X, products, top=3, lower=False)
    columns = risk_columns(model, X, score(model, X, products, top=0), 3)
    assert sum(c.family[i] is not None for c in columns for i in range(len(X))) > len(X)
    for i in range(len(X)):
        served = score(model, X[i : i + 1], products[i : i + 1]).reasons[0]["raise_risk"][:3]
        assert json.dumps(batch.reasons[i]["raise_risk"], default=str) == json.dumps(
            served, default=str
        )
        worded = [
            {"family": c.family[i], "points": c.points[i], "zh": c.zh[i], "en": c.en[i]}
            for c in columns
            if c.family[i] is not None
        ]
        assert worded == [
            {k: reason[k] for k in ("family", "points", "zh", "en")} for reason in served
        ]
