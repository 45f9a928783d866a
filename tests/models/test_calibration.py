"""Platt calibration: golden fit, recovery of a known map, refusal of a reversing slope."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from models.calibration import PlattCalibrator


def _simulate(a: float, b: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    margin = rng.normal(-2.0, 1.5, size=n)
    pd_ = 1.0 / (1.0 + np.exp(-(a * margin + b)))
    return margin, (rng.random(n) < pd_).astype(int)


def test_saturated_two_point_case_golden() -> None:
    # Two margin values, so the MLE fits each group's default rate exactly:
    #   margin 0: 20 defaults in 100 -> logit(0.2) = ln(0.2/0.8) = -ln 4 = b
    #   margin 1: 50 defaults in 100 -> logit(0.5) = 0            = a + b  -> a = ln 4
    # ln 4 = 1.3862943611198906
    margin = np.r_[np.zeros(100), np.ones(100)]
    y = np.r_[np.ones(20), np.zeros(80), np.ones(50), np.zeros(50)]
    cal = PlattCalibrator().fit(margin, y)
    assert cal.slope_ == pytest.approx(1.3862943611198906, rel=1e-6)
    assert cal.intercept_ == pytest.approx(-1.3862943611198906, rel=1e-6)
    np.testing.assert_allclose(cal.predict_pd([0.0, 1.0]), [0.2, 0.5], rtol=1e-6)
    assert cal.n_samples_ == 200


def test_recovers_a_known_logistic_map() -> None:
    # 200k rows, PD ~ 8 %: the standard error of a is ~0.006, so 0.03 is ~5 s.e.
    margin, y = _simulate(a=0.6, b=-1.2, n=200_000, seed=11)
    cal = PlattCalibrator().fit(margin, y)
    assert cal.slope_ == pytest.approx(0.6, abs=0.03)
    assert cal.intercept_ == pytest.approx(-1.2, abs=0.06)
    assert cal.n_iter_ < 20


def test_agrees_with_unpenalised_sklearn() -> None:
    margin, y = _simulate(a=1.3, b=0.4, n=20_000, seed=5)
    cal = PlattCalibrator().fit(margin, y)
    ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(margin[:, None], y)
    assert cal.slope_ == pytest.approx(ref.coef_[0, 0], rel=1e-4)
    assert cal.intercept_ == pytest.approx(ref.intercept_[0], rel=1e-4)


def test_sample_weight_equals_repeating_rows() -> None:
    margin = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, -1.5, 0.5])
    y = np.array([0, 0, 1, 0, 1, 1, 0])
    w = np.array([3, 1, 2, 1, 2, 1, 4])
    weighted = PlattCalibrator().fit(margin, y, sample_weight=w)
    repeated = PlattCalibrator().fit(np.repeat(margin, w), np.repeat(y, w))
    assert weighted.slope_ == pytest.approx(repeated.slope_, rel=1e-9)
    assert weighted.intercept_ == pytest.approx(repeated.intercept_, rel=1e-9)


def test_negative_slope_is_refused() -> None:
    margin, y = _simulate(a=-0.8, b=-2.0, n=20_000, seed=2)
    with pytest.raises(ValueError, match=r"calibration slope must be > 0; got -0\.\d+"):
        PlattCalibrator().fit(margin, y)


def test_stored_negative_slope_is_refused() -> None:
    with pytest.raises(ValueError, match=r"calibration slope must be > 0; got -1\.0"):
        PlattCalibrator.from_dict(
            {
                "kind": "PlattCalibrator",
                "format": 1,
                "params": {"max_iter": 100, "tol": 1e-10},
                "slope": -1.0,
                "intercept": 0.0,
                "n_samples": 10,
                "n_iter": 3,
            }
        )


def test_perfect_separation_is_refused() -> None:
    margin = np.array([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0])
    y = np.array([0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match=r"did not converge|singular Hessian"):
        PlattCalibrator().fit(margin, y)


def test_predict_is_the_logistic_map_and_monotone() -> None:
    cal = PlattCalibrator().fit(*_simulate(a=0.9, b=-0.5, n=5_000, seed=1))
    m = np.linspace(-10, 6, 101)
    expected = 1.0 / (1.0 + np.exp(-(cal.slope_ * m + cal.intercept_)))
    np.testing.assert_allclose(cal.predict_pd(m), expected, rtol=1e-12)
    np.testing.assert_allclose(cal.predict_logit(m), cal.slope_ * m + cal.intercept_)
    assert np.all(np.diff(cal.predict_pd(m)) > 0)
    assert isinstance(float(cal.predict_pd(-3.0)), float)


def test_extreme_margins_do_not_overflow() -> None:
    cal = PlattCalibrator.from_dict(
        {
            "kind": "PlattCalibrator",
            "format": 1,
            "params": {"max_iter": 100, "tol": 1e-10},
            "slope": 1.0,
            "intercept": 0.0,
            "n_samples": 10,
            "n_iter": 3,
        }
    )
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = cal.predict_pd([-1000.0, 1000.0])
    assert out[0] == 0.0
    assert out[1] == 1.0
    assert cal.predict_pd(-30.0) == pytest.approx(math.exp(-30.0), rel=1e-9)


def test_round_trip_predicts_identically() -> None:
    margin, y = _simulate(a=0.7, b=-0.9, n=3_000, seed=4)
    cal = PlattCalibrator().fit(margin, y)
    back = PlattCalibrator.from_dict(json.loads(json.dumps(cal.to_dict())))
    np.testing.assert_array_equal(back.predict_pd(margin), cal.predict_pd(margin))
    assert back.get_params() == cal.get_params()


def test_not_fitted() -> None:
    with pytest.raises(NotFittedError):
        PlattCalibrator().predict_pd(0.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_iter": 0}, ValueError, "max_iter must be > 0; got 0"),
        ({"max_iter": 2.5}, TypeError, "max_iter must be an integer; got 2.5"),
        ({"tol": -1.0}, ValueError, "tol must be a finite number > 0; got -1.0"),
    ],
)
def test_fit_checks_parameters(kwargs: dict, error: type, message: str) -> None:
    cal = PlattCalibrator(**kwargs)  # __init__ only stores
    with pytest.raises(error, match=message):
        cal.fit([0.0, 1.0], [0, 1])


@pytest.mark.parametrize(
    ("margin", "y", "message"),
    [
        ([0.0, 1.0], [0, 2], "y must contain only 0 and 1; got 2.0"),
        ([0.0, 1.0], [1, 1], "y must contain both classes"),
        ([0.0, 1.0, 2.0], [0, 1], "same length; got 3 and 2"),
        ([0.0, np.nan], [0, 1], "margin must be finite"),
        ([1.0, 1.0], [0, 1], r"margin is constant \(1.0\)"),
    ],
)
def test_fit_checks_data(margin: list, y: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PlattCalibrator().fit(margin, y)
