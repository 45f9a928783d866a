"""Leaf-table TreeSHAP equals LightGBM's ``pred_contrib`` tree by tree, whatever the input."""

from __future__ import annotations

import cloudpickle
import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from models import treeshap
from models.treeshap import LeafTableExplainer, LightGBMContrib, UnsupportedModel, explainer_for

TOLERANCE = 1e-9


def assert_equal_on_every_tree(booster: lgb.Booster, X: np.ndarray) -> None:
    """Each tree alone (bias included) and the whole model, against ``pred_contrib``."""
    dump = booster.dump_model()
    for t, tree in enumerate(dump["tree_info"]):
        ours = LeafTableExplainer.from_dump({**dump, "tree_info": [tree]}).contributions(X)
        theirs = booster.predict(X, pred_contrib=True, start_iteration=t, num_iteration=1)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=TOLERANCE, err_msg=f"tree {t}")
    whole = LeafTableExplainer.from_booster(booster).contributions(X)
    np.testing.assert_allclose(whole, booster.predict(X, pred_contrib=True), rtol=0, atol=TOLERANCE)


def awkward_values(rng: np.random.Generator, n: int, categories: int) -> np.ndarray:
    """Numeric columns with NaN, exact zeros, sub-1e-35 magnitudes and repeats; the last
    column a category code with NaN, negatives, fractions and unseen codes."""
    X = rng.normal(size=(n, 5))
    X[:, 1] = np.round(X[:, 1], 1)  # many ties: thresholds fall between repeated values
    cells = rng.random(X.shape)
    X[cells < 0.15] = np.nan
    X[(cells >= 0.15) & (cells < 0.25)] = 0.0
    X[(cells >= 0.25) & (cells < 0.28)] = 1e-40
    cat = rng.integers(0, categories, size=n).astype(float)
    odd = rng.random(n)
    cat[odd < 0.1] = np.nan
    cat[(odd >= 0.1) & (odd < 0.13)] = -1.0
    cat[(odd >= 0.13) & (odd < 0.16)] = 0.5
    cat[(odd >= 0.16) & (odd < 0.2)] = categories + 40  # unseen, beyond the bitset
    return np.column_stack([X, cat])


@hsettings(max_examples=25)
@given(
    seed=st.integers(0, 10_000),
    max_depth=st.integers(1, 6),
    num_leaves=st.integers(2, 40),
    zero_as_missing=st.booleans(),
    use_missing=st.booleans(),
    categories=st.integers(2, 70),
)
def test_random_models_and_inputs_match_pred_contrib_on_every_tree(
    seed: int,
    max_depth: int,
    num_leaves: int,
    zero_as_missing: bool,
    use_missing: bool,
    categories: int,
) -> None:
    rng = np.random.default_rng(seed)
    X = awkward_values(rng, 600, categories)
    # category 0 carries signal, so splits put it in their left set, where a NaN must not go
    cat = np.nan_to_num(X[:, 5], nan=-1.0)
    signal = np.nan_to_num(X[:, 0]) + np.isnan(X[:, 2]) + 2 * (cat == 0) + (cat % 3 == 1)
    y = (signal + rng.normal(size=len(X)) > 0.8).astype(int)
    params = {
        "objective": "binary",
        "max_depth": max_depth,
        "num_leaves": num_leaves,
        "min_child_samples": 5,
        "min_data_per_group": 5,
        "cat_smooth": 1.0,
        "zero_as_missing": zero_as_missing,
        "use_missing": use_missing,
        "verbosity": -1,
        "num_threads": 1,
        "seed": seed,
    }
    data = lgb.Dataset(X, y, categorical_feature=[5], free_raw_data=False)
    booster = lgb.train(params, data, num_boost_round=8)
    assert_equal_on_every_tree(booster, awkward_values(np.random.default_rng(seed + 1), 300, 80))


def test_the_project_model_matches_pred_contrib_on_every_tree(small_fit) -> None:
    _, fit = small_fit
    booster = fit.model.booster
    X = fit.matrices["oot"][:300].copy()
    assert any("==" in str(t["tree_structure"]) for t in booster.dump_model()["tree_info"]), (
        "the project model is expected to hold categorical splits"
    )
    X[::7, ::3] = np.nan  # thin files: missing values on every path
    assert_equal_on_every_tree(booster, X)


def test_threads_split_rows_without_changing_a_value() -> None:
    rng = np.random.default_rng(3)
    X = awkward_values(rng, 3 * treeshap.MIN_ROWS_PER_THREAD, 10)
    y = (np.nan_to_num(X[:, 0]) > 0).astype(int)
    booster = lgb.train({"objective": "binary", "verbosity": -1}, lgb.Dataset(X, y), 5)
    explainer = LeafTableExplainer.from_booster(booster)
    np.testing.assert_array_equal(
        explainer.contributions(X, threads=1), explainer.contributions(X, threads=3)
    )


def test_a_single_leaf_tree_only_moves_the_bias() -> None:
    X = np.zeros((50, 2))
    booster = lgb.train(
        {"objective": "binary", "verbosity": -1}, lgb.Dataset(X, np.arange(50) % 2), 3
    )
    assert all("leaf_value" in t["tree_structure"] for t in booster.dump_model()["tree_info"])
    np.testing.assert_allclose(
        LeafTableExplainer.from_booster(booster).contributions(X),
        booster.predict(X, pred_contrib=True),
        atol=TOLERANCE,
    )


def test_models_without_tables_keep_pred_contrib(monkeypatch) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    y = (X.sum(axis=1) > 0).astype(int)
    deep = lgb.train(
        {"objective": "binary", "verbosity": -1, "min_child_samples": 5}, lgb.Dataset(X, y), 3
    )
    monkeypatch.setattr(treeshap, "MAX_PATH_FEATURES", 2)
    with pytest.raises(UnsupportedModel, match="distinct features"):
        LeafTableExplainer.from_booster(deep)
    fallback = explainer_for(deep)
    assert isinstance(fallback, LightGBMContrib)
    np.testing.assert_array_equal(fallback.contributions(X), deep.predict(X, pred_contrib=True))

    multiclass = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbosity": -1},
        lgb.Dataset(X, rng.integers(0, 3, len(X))),
        2,
    )
    with pytest.raises(UnsupportedModel, match="num_tree_per_iteration must be 1; got 3"):
        LeafTableExplainer.from_booster(multiclass)


def test_a_matrix_of_the_wrong_width_is_refused() -> None:
    X = np.random.default_rng(1).normal(size=(100, 3))
    booster = lgb.train(
        {"objective": "binary", "verbosity": -1}, lgb.Dataset(X, (X[:, 0] > 0).astype(int)), 2
    )
    with pytest.raises(ValueError, match=r"X must have shape \(n, 3\); got \(100, 2\)"):
        LeafTableExplainer.from_booster(booster).contributions(X[:, :2])


def test_the_model_travels_to_workers_with_its_explainer(small_fit) -> None:
    """Dask scatters the model with cloudpickle: the explainer arrives built and equal."""
    _, fit = small_fit
    X = fit.matrices["oot"][:100]
    again = cloudpickle.loads(cloudpickle.dumps(fit.model))
    np.testing.assert_array_equal(again.contributions(X), fit.model.contributions(X))
