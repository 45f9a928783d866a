"""Shadow scoring: stored beside the decision, never returned, compared by the monitor."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa

from models.calibration import PlattCalibrator
from serving.audit import AuditStore, shadow_scores
from serving.monitoring.drift import monitor
from serving.monitoring.shadow import ShadowScorer
from serving.schemas import ScoreRequest
from serving.scoring import Scorer


def _riskier(handle):
    """The champion with every PD's odds multiplied by e: a challenger that grades worse."""
    fitted = handle.model.calibrator.to_dict()
    calibrator = PlattCalibrator.from_dict(fitted)
    calibrator.intercept_ = handle.model.calibrator.intercept_ + 1.0
    model = dataclasses.replace(handle.model, calibrator=calibrator)
    return dataclasses.replace(handle, model=model, version="99", alias="challenger")


def test_shadow_scores_are_stored_and_compared(registry, sample_requests, tmp_path, monkeypatch):
    from serving.model_source import from_registry

    for key, value in registry.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TECHRISK_MODEL_URI", raising=False)
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    store.create_schema()
    champion = from_registry()
    shadow = ShadowScorer(_riskier(champion), store)
    scorer = Scorer(champion, store, shadow)
    requests = [ScoreRequest.model_validate(b) for b in sample_requests]
    single = scorer.score(requests[0])
    batch = scorer.score_many(requests[1:])
    shadow.drain()
    assert "shadow" not in single.model_dump_json()
    with sa.create_engine(store.url).connect() as connection:
        rows = connection.execute(sa.select(shadow_scores)).mappings().all()
    by_id = {r["request_id"]: r for r in rows}
    assert set(by_id) == {single.request_id, *(b.request_id for b in batch)}
    for answer in [single, *batch]:
        assert by_id[answer.request_id]["model_version"] == "99"
        assert by_id[answer.request_id]["pd"] > answer.pd
        assert by_id[answer.request_id]["grade"] >= answer.grade
    report = monitor(
        store.monitoring_rows(), champion.model, champion.version, {}, window_by="created_at"
    )
    compared = report["shadow"]["segments"]["all"]
    assert report["shadow"]["shadow_versions"] == ["99"]
    assert compared["rows"] == len(sample_requests)
    assert compared["shadow_better"] == 0.0 and compared["shadow_worse"] > 0.5
    assert sum(map(sum, compared["grade_migration"])) == len(sample_requests)
    assert compared["mean_shadow_pd"] > compared["mean_pd"]
    shadow.close()
    store.close()


def test_a_full_queue_drops_the_shadow_not_the_answer(
    registry, sample_requests, tmp_path, monkeypatch
):
    from serving.model_source import from_registry

    for key, value in registry.items():
        monkeypatch.setenv(key, value)
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    store.create_schema()
    champion = from_registry()
    shadow = ShadowScorer(champion, store, queue_size=1)
    scorer = Scorer(champion, store, shadow)
    answers = [scorer.score(ScoreRequest.model_validate(b)) for b in sample_requests[:10]]
    shadow.drain()
    assert len(answers) == 10
    assert shadow.written + shadow.dropped == 10
    shadow.close()
    store.close()
