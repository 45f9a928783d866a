"""``techrisk monitor`` on replayed periods: a shocked one is flagged, a stable one is not.

A period is replayed by scoring applications of the small market through the service's scorer,
so the audit store holds real decisions with their canonical inputs, and the monitor rebuilds
their features through ``features/``. The stable period is a sample of the training window's
applications (the population the model was trained on: what must not raise an alarm is
sampling noise, binning, or a request path that builds features differently from the training
table). The shocked period is the same sample after a 2020-like order shock: the firms in
chosen industries lose half their latest revenue. Windows are by decision time, so the replay
is one monthly window.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from models.reference import ALL, SCORE, Bins, DriftReference, psi
from serving.audit import AuditStore
from serving.examples import request_from_frames
from serving.monitoring.drift import MonitorError, Thresholds, monitor
from serving.monitoring.outcomes import OutcomeFileError, load_outcomes
from serving.schemas import ScoreRequest
from serving.scoring import Scorer
from tests.conftest import environment

#: Applications replayed: a sample of the whole training window. A sub-period would not do:
#: history-length features (years of tax ratings and of accounts on file) grow with calendar
#: time in the synthetic market, which the monitor rightly reports as drift.
SAMPLE = 700
#: The training slice ends at this quantile of the application dates (training's default).
VALID_START_QUANTILE = 0.70
SHOCKED_INDUSTRIES = ("electronic_info", "advanced_manufacturing")


# --- the reference and PSI, no model needed --------------------------------------------------


def test_psi_is_zero_on_equal_histograms_and_grows_with_a_shift() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=20_000)
    bins = Bins.fit(x)
    base = bins.counts(x)
    assert psi(base, base) == 0.0
    small = psi(base, bins.counts(x + 0.1))
    large = psi(base, bins.counts(x + 1.0))
    assert 0 < small < 0.1 < 0.25 < large


def test_reference_counts_missing_values_and_unseen_categories() -> None:
    X = np.array([[1.0, 0.1], [2.0, np.nan], [1.0, 0.3], [3.0, 0.4]])
    ref = DriftReference.fit(X, ["code", "ratio"], np.array([500.0, 600, 700, 800]))
    assert ref.bins["code"].values == (1.0, 2.0, 3.0)
    assert ref.expected(ALL, "ratio")[-1] == 1  # the missing bin
    unseen = ref.bins["code"].counts(np.array([9.0, np.nan]))
    assert unseen.tolist() == [0, 0, 0, 1, 1]  # 'other', then missing
    again = DriftReference.from_dict(json.loads(json.dumps(ref.to_dict())))
    assert again.counts == ref.counts and again.bins == ref.bins
    assert ref.bins[SCORE].labels()[-1] == "missing"


def test_a_collapsed_coverage_is_flagged() -> None:
    from serving.monitoring.drift import _window_drift

    rng = np.random.default_rng(1)
    X = rng.normal(size=(5_000, 2))
    score = rng.normal(600, 50, size=5_000)
    ref = DriftReference.fit(X, ["a", "b"], score)
    now = rng.normal(size=(1_000, 2))
    now[:300, 1] = np.nan  # 30 % of "b" goes missing
    window = _window_drift(ALL, ALL, "2025-01", now, score[:1_000], ref, Thresholds())
    b = window["features"]["b"]
    assert b["missing_reference"] == 0 and b["missing_now"] == pytest.approx(0.3)
    assert b["coverage_status"] == "act" and window["status"] == "act"
    assert window["features"]["a"]["status"] == "ok"
    assert window["flagged_features"] == ["b"]


def test_thresholds_name_a_bad_value() -> None:
    with pytest.raises(MonitorError, match=r"psi_watch \(0.3\).*psi_act \(0.25\)"):
        Thresholds(psi_watch=0.3)


def test_outcome_file_refuses_a_bad_value_and_loads_nothing(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.csv"
    path.write_text("loan_id,default_12m\nL1,1\nL2,maybe\nL3,\n")
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    with pytest.raises(OutcomeFileError, match=r"row 3: default_12m 'maybe' of loan L2"):
        load_outcomes(path, store)
    path.write_text("loan_id,default_12m\nL1,1\nL2,false\nL3,\n")
    loaded = load_outcomes(path, store)
    assert (loaded.loaded, loaded.defaults, loaded.pending) == (2, 1, 1)
    path.write_text("loan_id,default_12m\nL1,0\n")
    load_outcomes(path, store)
    assert store.outcome_rows() == {"L1": False, "L2": False}


# --- replayed periods ------------------------------------------------------------------------


def _period(market: dict[str, pd.DataFrame]) -> pd.DataFrame:
    apps = market["applications"]
    train = apps[apps["applied_on"] < apps["applied_on"].quantile(VALID_START_QUANTILE)]
    return train.sample(n=SAMPLE, random_state=5)


def _shocked(body: dict[str, Any], industries: tuple[str, ...]) -> dict[str, Any]:
    """Halve revenue (and its high-tech part) of the fiscal years that end in the year before
    the application or later, and take the lost revenue off the profit."""
    if body["firm"]["industry"] not in industries:
        return body
    body = copy.deepcopy(body)
    year = int(body["application"]["as_of"][:4])
    for row in body["financials"]:
        if row["fiscal_year"] >= year - 1 and row["revenue"] is not None:
            lost = row["revenue"] / 2
            row["revenue"] -= lost
            if row["high_tech_revenue"] is not None:
                row["high_tech_revenue"] /= 2
            if row["net_profit"] is not None:
                row["net_profit"] -= lost
    return body


@pytest.fixture(scope="module")
def period_requests(small_market) -> list[dict[str, Any]]:
    apps = _period(small_market)
    codes = set(apps["credit_code"])
    # Cut the tables to the period's firms first: request_from_frames scans a whole table.
    tables = {
        name: t[t["credit_code"].isin(codes)] if "credit_code" in t.columns else t
        for name, t in small_market.items()
    }
    return [request_from_frames(tables, row) for _, row in apps.iterrows()]


@pytest.fixture
def served(registry, tmp_path, monkeypatch) -> Iterator[tuple[Scorer, AuditStore]]:
    """A scorer on the registry's champion writing to a fresh audit store."""
    from serving.model_source import from_registry

    for key, value in registry.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TECHRISK_MODEL_URI", raising=False)
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    store.create_schema()
    yield Scorer(from_registry(), store), store
    store.close()


def _replay(scorer: Scorer, bodies: list[dict[str, Any]]) -> None:
    requests = [ScoreRequest.model_validate(b) for b in bodies]
    for start in range(0, len(requests), 200):
        scorer.score_many(requests[start : start + 200])


def _run(scorer: Scorer, store: AuditStore, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("window_by", "created_at")
    return monitor(
        store.monitoring_rows(), scorer.model, scorer.handle.version, store.outcome_rows(), **kwargs
    )


def test_a_stable_period_is_not_flagged(served, period_requests) -> None:
    scorer, store = served
    _replay(scorer, period_requests)
    report = _run(scorer, store)
    judged = [w for w in report["windows"] if w["status"] != "too_few"]
    assert judged, "the replayed quarter should give judged monthly windows"
    assert report["parts"]["population"] != "act", [
        (w["segment"], w["month"], w["flagged_features"][:3]) for w in judged
    ]
    assert max(w["score_psi"] for w in judged) < 0.1
    assert report["unreadable"] == [] and report["shadow"] is None
    _print_figures("stable", report)


def test_a_shocked_period_is_flagged_on_the_shocked_features(served, period_requests) -> None:
    scorer, store = served
    _replay(scorer, [_shocked(b, SHOCKED_INDUSTRIES) for b in period_requests])
    report = _run(scorer, store)
    assert report["status"] == "act"
    overall = [w for w in report["windows"] if w["segment"] == ALL]
    assert all(w["status"] == "act" for w in overall)
    for w in overall:
        acted = [n for n in w["flagged_features"] if w["features"][n]["status"] == "act"]
        assert acted and all(n.startswith("fin_") for n in acted), acted
    _print_figures("shocked", report)


def _print_figures(label: str, report: dict[str, Any]) -> None:
    """The figures the closing note quotes (shown with ``pytest -s``)."""
    for w in report["windows"]:
        top = sorted(w["features"].items(), key=lambda kv: -kv[1]["psi"])[:3]
        print(
            f"{label} {w['segment']} {w['month']}: {w['rows']} rows, {w['status']}, score PSI "
            f"{w['score_psi']:.3f}, top features "
            + ", ".join(f"{n} {e['psi']:.3f}" for n, e in top)
        )


def test_cli_writes_the_report_logs_it_and_exits_1_on_act(
    served, period_requests, registry, tmp_path
) -> None:
    from techrisk.cli import main

    scorer, store = served
    _replay(scorer, [_shocked(b, SHOCKED_INDUSTRIES) for b in period_requests])
    env = {**registry, "TECHRISK_DATABASE_URL": store.url}
    with environment(env):
        status = main(["monitor", "--out", str(tmp_path / "mon"), "--window-by", "created_at"])
    assert status == 1
    saved = json.loads((tmp_path / "mon" / "monitor.json").read_text())
    assert saved["status"] == "act"
    assert "<img src='data:image/png;base64," in (tmp_path / "mon" / "monitor.html").read_text()


def test_outcomes_give_a_binomial_test_per_grade(served, period_requests, small_market) -> None:
    scorer, store = served
    _replay(scorer, period_requests)
    apps = _period(small_market)
    truth = dict(zip(apps["loan_id"], apps["default_12m"].astype(bool), strict=True))
    report = _run(scorer, store)
    assert report["calibration"] is None
    store.record_outcomes(
        [
            {
                "loan_id": k,
                "default_12m": v,
                "loaded_at": pd.Timestamp.now(tz="UTC"),
                "source": "test",
            }
            for k, v in truth.items()
        ]
    )
    calib = _run(scorer, store)["calibration"]
    assert calib["loans"] == len(truth)
    assert sum(g["defaults"] for g in calib["grades"]) == sum(truth.values())
    assert all(0 <= g["p_value"] <= 1 for g in calib["grades"])
    # Every loan reported as a default: the realised rates sit far above the PDs.
    store.record_outcomes(
        [
            {
                "loan_id": k,
                "default_12m": True,
                "loaded_at": pd.Timestamp.now(tz="UTC"),
                "source": "test",
            }
            for k in truth
        ]
    )
    assert _run(scorer, store)["calibration"]["status"] == "act"
