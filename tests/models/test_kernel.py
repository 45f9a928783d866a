"""The scoring kernel: a batch row is the single-row answer, points add up, edge shapes work."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from models.kernel import TOP_REASONS, score


@pytest.fixture(scope="module")
def fitted(small_fit):
    """The small fit's model with the cohorts and reasons training gives a registered one."""
    from training.assemble import COHORT_COLUMNS, reason_builder

    data, fit = small_fit
    model = copy.copy(fit.model)  # the session's model stays as other tests expect it
    X_train = fit.matrices["train"]
    model.fit_cohorts(X_train, model.score(X_train).pd, COHORT_COLUMNS)
    model.reasons = reason_builder(data.features, X_train)
    X = fit.matrices["oot"][:200]
    products = np.where(np.arange(len(X)) % 3 == 0, "tdld", "xyd")
    return model, X, products


def test_batch_rows_equal_single_row_answers(fitted) -> None:
    model, X, products = fitted
    batch = score(model, X, products)
    for i in range(0, len(X), 7):
        one = score(model, X[i : i + 1], products[i])
        assert one.pd[0] == batch.pd[i] and one.score[0] == batch.score[i]
        assert one.grade[0] == batch.grade[i] and one.decision[0] == batch.decision[i]
        assert one.percentile[0] == batch.percentile[i]
        np.testing.assert_array_equal(one.points[0], batch.points[i])
        np.testing.assert_array_equal(one.family_points[0], batch.family_points[i])
        assert one.reasons[0] == batch.reasons[i]


def test_points_add_up_to_the_score(fitted) -> None:
    model, X, products = fitted
    out = score(model, X, products)
    np.testing.assert_allclose(out.base_points + out.points.sum(axis=1), out.score, atol=1e-9)
    np.testing.assert_allclose(
        out.base_points + out.family_points.sum(axis=1), out.score, atol=1e-9
    )
    for i in range(len(X)):
        family = out.family_points_of(i)
        for side in ("raise_risk", "lower_risk"):
            for reason in out.reasons[i][side]:
                assert reason["points"] == family[reason["family"]]
        assert out.base_points[i] + sum(family.values()) == pytest.approx(out.score[i], abs=1e-9)


def test_kernel_agrees_with_the_model_steps(fitted) -> None:
    model, X, products = fitted
    out = score(model, X, products)
    np.testing.assert_allclose(out.pd, model.score(X).pd, rtol=1e-12)
    np.testing.assert_array_equal(out.grade, model.master.grade(out.pd))
    np.testing.assert_array_equal(out.decision, model.decide(out.pd, products))
    np.testing.assert_array_equal(out.percentile, model.peer_percentile(X, out.pd))
    assert out.features == tuple(model.features)
    assert out.families == model.reasons.family_names


def test_reasons_are_ranked_and_bounded(fitted) -> None:
    model, X, products = fitted
    out = score(model, X, products)
    assert any(r["raise_risk"] for r in out.reasons) and any(r["lower_risk"] for r in out.reasons)
    for row in out.reasons:
        up = [r["points"] for r in row["raise_risk"]]
        down = [r["points"] for r in row["lower_risk"]]
        assert len(up) <= TOP_REASONS and len(down) <= TOP_REASONS
        assert all(p < 0 for p in up) and up == sorted(up)
        assert all(p > 0 for p in down) and down == sorted(down, reverse=True)


def test_numbers_only_and_risk_side_only(fitted) -> None:
    model, X, products = fitted
    full = score(model, X, products)
    bare = score(model, X, products, top=0)
    assert bare.reasons is None
    np.testing.assert_array_equal(bare.pd, full.pd)
    np.testing.assert_array_equal(bare.family_points, full.family_points)
    risk = score(model, X, products, top=3, lower=False)
    for r, f in zip(risk.reasons, full.reasons, strict=True):
        assert r["raise_risk"] == f["raise_risk"][:3] and r["lower_risk"] == []


def test_a_second_model_scores_the_same_rows(fitted, small_fit) -> None:
    """Shadow scoring: another model on the same matrix, each with its own answer."""
    from models.spec import LGBMSpec
    from training.fit import fit_pd_model

    model, X, products = fitted
    data, _ = small_fit
    shadow = fit_pd_model(data, LGBMSpec(num_boost_round=20, early_stopping_rounds=5)).model
    a, b = score(model, X, products), score(shadow, X, products)
    assert len(a) == len(b) == len(X) and not np.array_equal(a.pd, b.pd)
    assert b.percentile is None and b.families == () and b.family_points.shape == (len(X), 0)
    assert all(r == {"raise_risk": [], "lower_risk": []} for r in b.reasons)
    np.testing.assert_allclose(b.base_points + b.points.sum(axis=1), b.score, atol=1e-9)


def test_empty_matrix(fitted) -> None:
    model, X, _ = fitted
    out = score(model, X[:0], [])
    assert len(out) == 0 and out.reasons == ()
    assert out.points.shape == (0, X.shape[1])
    assert out.family_points.shape == (0, len(model.reasons.family_names))
    assert out.decision.shape == (0,) and out.percentile.shape == (0,)


def test_result_is_read_only(fitted) -> None:
    model, X, products = fitted
    out = score(model, X[:3], products[:3])
    with pytest.raises(ValueError, match="read-only"):
        out.pd[0] = 0.5


@pytest.mark.parametrize(
    ("rows", "products", "match"),
    [
        (lambda X: X[:, :-1], "xyd", r"feature columns; got shape"),
        (lambda X: X[0], "xyd", r"feature columns; got shape"),
        (lambda X: X[:4], ["xyd"] * 3, r"one product per row \(4\); got 3"),
        (lambda X: X[:2], "pawn", r"unknown product 'pawn'"),
    ],
)
def test_bad_input_is_named(fitted, rows, products, match) -> None:
    model, X, _ = fitted
    with pytest.raises(ValueError, match=match):
        score(model, rows(X), products)
