"""A blended or scorecard-only champion serves through ``/score`` and screens like the booster.

Each kind is built by the run's own champion code (``training.champion``) from the small
market's booster and WoE scorecard, given its cohorts and reasons (``training.assemble``),
registered as ``techrisk-pd@champion`` in a throw-away MLflow store, then loaded by the
service and by batch screening. Reasons are exact whichever margin is served: the base points
plus every family's points give the score to 1e-9, and screening's reasons are the service's.
"""

from __future__ import annotations

import datetime as dt

import mlflow
import numpy as np
import pandas as pd
import pytest

from features.build import build_feature_matrix
from models.packaging import log_pd_model, set_alias
from serving.model_source import from_registry
from serving.schemas import ScoreRequest, to_sources
from serving.screening.part import TOP_REASONS, ModelRef, screen_frames
from serving.screening.partition import ROW
from techrisk_base import settings
from tests.conftest import environment, mlflow_env
from training.assemble import assemble
from training.baselines import ScorecardBaseline
from training.champion import candidates, champion_model
from training.fit import GBMFit

TODAY = dt.date(2025, 6, 30)
REQUESTS = 8


@pytest.fixture(scope="module", params=["blend", "scorecard"])
def registry(request, small_fit, tmp_path_factory) -> dict[str, str]:
    """Env of an MLflow store whose champion is the blend, or the scorecard alone.

    Named like the session fixture so that ``client`` (tests/serving/conftest.py) serves it."""
    data, fit = small_fit
    train = pd.DataFrame(fit.matrices["train"], columns=data.features)
    card = ScorecardBaseline(categorical=data.categorical, directions=data.directions)
    woe = card.fit(train, data.part("train")[1]).to_woe_scorecard(train)
    gbm = GBMFit(fit.model.booster, {}, fit.best_iteration, 0.0, np.nan, pd.DataFrame(), 0.0, 0.0)
    cands, notes = candidates(gbm, woe, fit.matrices, data.part("valid")[1])
    assert request.param in cands, notes
    model = champion_model(cands[request.param], fit.model.encoder, gbm, woe)
    assert model.kind == request.param
    X_train = fit.matrices["train"]
    assemble(model, X_train, model.score(X_train).pd, {"champion": request.param})
    env = mlflow_env(tmp_path_factory.mktemp(f"registry-{request.param}"))
    with environment(env):
        mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
        store = settings.artifact_location()
        with mlflow.start_run(experiment_id=mlflow.create_experiment("kinds", store)):
            info = log_pd_model(model, data.part("oot")[0], "techrisk-pd")
        set_alias("techrisk-pd", info.registered_model_version, "champion")
    return {**env, "KIND": request.param}


@pytest.fixture(scope="module")
def handle(registry):
    with environment(registry):
        return from_registry()


def test_the_registered_champion_is_that_kind(handle, registry) -> None:
    assert handle.model.kind == registry["KIND"]
    assert (handle.model.booster is None) == (registry["KIND"] == "scorecard")


def test_score_reasons_add_up_to_the_score_exactly(client, sample_requests, handle) -> None:
    model = handle.model
    for body in sample_requests[:REQUESTS]:
        r = client.post("/score", json=body)
        assert r.status_code == 200, r.text
        out = r.json()
        total = out["base_points"] + sum(out["family_points"].values())
        assert abs(total - out["score"]) <= 1e-9
        for direction in ("raise_risk", "lower_risk"):
            for reason in out["reasons"][direction]:
                assert reason["points"] == pytest.approx(
                    out["family_points"][reason["family"]], abs=1e-9
                )
        X = build_feature_matrix(*to_sources(ScoreRequest.model_validate(body)))
        scores = model.score(X)
        assert out["pd"] == pytest.approx(float(scores.pd[0]), abs=1e-12)
        assert out["score"] == pytest.approx(float(scores.score[0]), abs=1e-9)
        contrib = model.contributions(X)
        np.testing.assert_allclose(contrib.sum(axis=1), model.margin(X), atol=1e-9)


def test_screening_gives_the_service_answers_and_reasons(
    client, sample_requests, small_market, handle
) -> None:
    """The same firms screened in a batch: PD, score and the top risk reasons as served."""
    codes = [b["firm"]["credit_code"] for b in sample_requests[:REQUESTS]]
    apps = small_market["applications"]
    newest = apps[apps["credit_code"].isin(codes)].sort_values("applied_on")
    newest = newest.drop_duplicates("credit_code", keep="last")
    tables = {
        name: frame[frame["credit_code"].isin(codes)].reset_index(drop=True)
        for name, frame in small_market.items()
        if name not in ("truth", "applications")
    }
    tables["applications"] = newest.drop(columns="default_12m").reset_index(drop=True)
    tables = {n: t.assign(**{ROW: np.arange(len(t))}) for n, t in tables.items()}
    results, errors, _ = screen_frames(
        tables, handle.model, ModelRef(handle.name, handle.version), TODAY
    )
    assert errors.empty, errors.to_dict("records")
    assert len(results) == len(codes)
    by_code = results.set_index("credit_code")
    for body in sample_requests[:REQUESTS]:
        out = client.post("/score", json=body).json()
        row = by_code.loc[body["firm"]["credit_code"]]
        assert row["pd"] == pytest.approx(out["pd"], abs=1e-12)
        assert row["score"] == pytest.approx(out["score"], abs=1e-9)
        served = out["reasons"]["raise_risk"][:TOP_REASONS]
        for k, reason in enumerate(served, start=1):
            assert row[f"reason_{k}_family"] == reason["family"]
            assert row[f"reason_{k}_points"] == pytest.approx(reason["points"], abs=1e-9)
