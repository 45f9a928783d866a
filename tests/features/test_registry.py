"""Every produced column is registered, and every registered feature is produced."""

from __future__ import annotations

import pytest

from features.build import build_feature_table, build_features
from features.registry import FAMILIES, FEATURE_NAMES, REGISTRY, UNITS
from synthetic import generate_market


@pytest.fixture(scope="module")
def features():
    market = generate_market(n_firms=300, seed=3)
    return build_features(market, market["applications"])


def test_columns_are_exactly_the_registry(features) -> None:
    assert list(features.columns) == list(FEATURE_NAMES)


def test_at_least_forty_features_in_every_family() -> None:
    assert len(FEATURE_NAMES) >= 40
    assert {f.family for f in REGISTRY.values()} == set(FAMILIES)


@pytest.mark.parametrize("name", FEATURE_NAMES)
def test_entry_is_complete(name: str) -> None:
    f = REGISTRY[name]
    assert f.direction in (-1, 0, 1)
    assert f.unit in UNITS
    assert f.zh and f.en
    if f.unit in ("level", "category"):
        assert f.labels, f"{name} is coded but has no labels"


def test_coded_features_stay_within_their_labels(features) -> None:
    for f in REGISTRY.values():
        if not f.labels:
            continue
        values = features[f.name].dropna().unique()
        low = 1 if f.unit == "level" else 0
        assert ((values >= low) & (values < low + len(f.labels))).all(), f.name


def test_feature_table_keys_and_label() -> None:
    market = generate_market(n_firms=200, seed=5)
    table = build_feature_table(market)
    assert table.index.name == "loan_id"
    assert table.index.is_unique
    assert {"product", "applied_on", "default_12m"} <= set(table.columns)
    assert len(table) == len(market["applications"])
