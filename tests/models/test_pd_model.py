"""The packaged model: exact contributions, points that add up, identical reloads."""

from __future__ import annotations

import numpy as np
import pytest

from models.pd_model import PDModel


@pytest.fixture(scope="module")
def model_and_X(small_fit):
    _, fit = small_fit
    return fit.model, fit.matrices["oot"][:500]


def test_contributions_sum_to_the_raw_margin(model_and_X) -> None:
    model, X = model_and_X
    contrib = model.contributions(X)
    assert contrib.shape == (len(X), len(model.features) + 1)
    np.testing.assert_allclose(contrib.sum(axis=1), model.margin(X), atol=1e-9)


def test_lightgbm_and_shap_tree_explainer_agree(model_and_X) -> None:
    import shap

    model, X = model_and_X
    X = X[:200]
    explanation = shap.TreeExplainer(model.booster)(X)  # the Explanation API: no legacy list
    contrib = model.contributions(X)
    np.testing.assert_allclose(explanation.values, contrib[:, :-1], atol=1e-6)
    np.testing.assert_allclose(explanation.base_values, contrib[:, -1], atol=1e-6)


def test_points_add_up_to_the_score(model_and_X) -> None:
    model, X = model_and_X
    base, points = model.points(model.contributions(X))
    np.testing.assert_allclose(base + points.sum(axis=1), model.score(X).score, atol=1e-8)


def test_a_reloaded_model_scores_identically(model_and_X, tmp_path) -> None:
    model, X = model_and_X
    again = PDModel.load(model.save(tmp_path / "m"))
    a, b = model.score(X), again.score(X)
    for field in ("margin", "pd", "score", "grade"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    np.testing.assert_array_equal(model.contributions(X), again.contributions(X))


def test_higher_margin_never_gives_a_better_score_or_grade(model_and_X) -> None:
    model, _ = model_and_X
    margins = np.linspace(-12, 6, 2_000)
    s = model.scores_from_margin(margins)
    assert np.all(np.diff(s.pd) >= 0)
    assert np.all(np.diff(s.score) <= 0)
    assert np.all(np.diff(s.grade) >= 0)


def test_calibrated_on_the_validation_slice(small_fit) -> None:
    from training import metrics

    data, fit = small_fit
    valid = data.split.mask("valid")
    pd_valid = fit.model.score(fit.matrices["valid"]).pd
    # Platt's intercept makes the mean PD equal the default rate on the slice it was fit on.
    assert pd_valid.mean() == pytest.approx(data.y[valid].mean(), rel=0.02)
    assert metrics.ece(data.y[valid], pd_valid) < 0.02
