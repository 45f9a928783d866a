"""The served WoE scorecard: plain arrays that match optbinning's own scores exactly."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from models.scorecard import WoEScorecard, WoETerm
from training.baselines import ScorecardBaseline


@pytest.fixture(scope="module")
def fitted() -> tuple[ScorecardBaseline, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 3_000
    X = pd.DataFrame(
        {
            "leverage": rng.normal(size=n),
            "region": rng.integers(0, 6, n).astype(float),
            "thin": np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n)),
            "noise": rng.normal(size=n),
        }
    )
    logit = -2 + 1.2 * X["leverage"] + (X["region"] == 2) - 0.8 * X["thin"].fillna(-1)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return ScorecardBaseline(categorical=["region"]).fit(X, y), X


def test_exported_arrays_score_as_optbinning_does(fitted) -> None:
    baseline, X = fitted
    card = baseline.to_woe_scorecard(X)
    assert {t.feature for t in card.terms} == set(baseline.selected_)
    np.testing.assert_allclose(card.logit(X.to_numpy()), baseline.logit(X), atol=1e-12)
    unseen = X.head(3).assign(region=[17.0, np.nan, 2.0], thin=[np.nan, 0.5, np.nan])
    np.testing.assert_allclose(card.logit(unseen.to_numpy()), baseline.logit(unseen), atol=1e-12)


def test_contributions_add_up_to_the_logit_and_survive_json(fitted) -> None:
    baseline, X = fitted
    card = baseline.to_woe_scorecard(X)
    contrib = card.contributions(X.to_numpy())
    assert contrib.shape == (len(X), X.shape[1] + 1)
    np.testing.assert_allclose(contrib.sum(axis=1), card.logit(X.to_numpy()), atol=1e-12)
    unselected = [i for i, f in enumerate(X.columns) if f not in baseline.selected_]
    assert np.all(contrib[:, unselected] == 0)
    again = WoEScorecard.from_dict(json.loads(json.dumps(card.to_dict())))
    np.testing.assert_array_equal(again.contributions(X.to_numpy()), contrib)


def test_a_few_rows_bin_as_each_term_bins_them(fitted) -> None:
    """A live request's rows are binned all terms at once; they must land in the bins each
    term's own search gives, on edges, at ±inf, missing and in unseen categories too."""
    baseline, X = fitted
    card = baseline.to_woe_scorecard(X)
    rows = X.head(40).to_numpy().copy()
    for term in card.terms:
        j = card.features.index(term.feature)
        probes = [*term.edges, np.inf, -np.inf, np.nan] if term.edges else [17.0, np.nan, -1.0]
        rows[: len(probes), j] = probes
    expected = np.zeros((len(rows), len(card.features) + 1))
    for term in card.terms:
        j = card.features.index(term.feature)
        expected[:, j] = term.coefficient * term.woe_of(rows[:, j])
    expected[:, -1] = card.intercept
    np.testing.assert_array_equal(card.contributions(rows), expected)
    many = np.repeat(rows, 10, axis=0)  # past the few-rows path: one search per term
    np.testing.assert_array_equal(card.contributions(many), np.repeat(expected, 10, axis=0))


def test_a_category_code_finds_its_bin_and_an_unseen_one_the_unknown_woe() -> None:
    term = WoETerm(
        "region", "categorical", 2.0, (0.5, -0.25), 0.1, 0.0, categories=((3.0, 1.0), (2.0,))
    )
    values = np.array([1.0, 2.0, 3.0, 4.0, np.nan, 0.0])
    np.testing.assert_array_equal(term.woe_of(values), [0.5, -0.25, 0.5, 0.0, 0.1, 0.0])


def test_bad_arrays_are_refused_naming_the_feature() -> None:
    with pytest.raises(ValueError, match="term 'x': 3 bins need 3 WoE values; got 2"):
        WoETerm("x", "numerical", 1.0, (0.1, 0.2), 0.0, edges=(0.0, 1.0))
    with pytest.raises(ValueError, match="term 'x': bin edges must increase"):
        WoETerm("x", "numerical", 1.0, (0.1, 0.2, 0.3), 0.0, edges=(1.0, 0.0))
    with pytest.raises(ValueError, match="term 'r': a category code lies in two bins"):
        WoETerm("r", "categorical", 1.0, (0.1, 0.2), 0.0, categories=((1.0, 2.0), (2.0,)))
    with pytest.raises(ValueError, match="term 'r': a categorical term needs category codes"):
        WoETerm("r", "categorical", 1.0, (0.1,), 0.0, categories=((),))
    term = WoETerm("x", "numerical", 1.0, (0.1, 0.2), 0.0, edges=(0.0,))
    with pytest.raises(ValueError, match="terms name features the model lacks: \\['x'\\]"):
        WoEScorecard(["y"], [term], 0.0)
    with pytest.raises(ValueError, match="X must have 1 columns"):
        WoEScorecard(["x"], [term], 0.0).contributions(np.zeros((2, 3)))
