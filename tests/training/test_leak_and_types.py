"""Leak checks beyond the raw AUC, and a bank export's column types, on small planted tables."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from training.column_types import HIGH_CARDINALITY_LEVELS, parse_number_text
from training.config import ConfigError, TrainConfig
from training.data_report import build_data_report
from training.dataset import load_training_data

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")  # optbinning 1.0

LABEL = "default_12m"


def _loans(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Honest drivers plus a loan term rewritten at charge-off: shortened, between round terms."""
    honest = rng.normal(size=n)
    x2, x3 = rng.normal(size=n), rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-1.6 + 0.9 * honest + 0.5 * x2 + 0.3 * x3)))).astype(int)
    terms = rng.choice([60, 84, 120], size=n)
    shortened = (terms * rng.uniform(0.3, 0.95, size=n)).round()
    rewritten = np.where(y == 1, rng.random(n) < 0.8, rng.random(n) < 0.05)
    return pd.DataFrame(
        {
            LABEL: y,
            "honest": honest,
            "x2": x2,
            "x3": x3,
            "term_months": np.where(rewritten, shortened, terms).astype(float),
        }
    )


@pytest.fixture(scope="module")
def loans() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(0)
    return {s: _loans(rng, n) for s, n in (("train", 3_000), ("valid", 1_000), ("oot", 1_000))}


def test_non_monotone_post_outcome_column_is_flagged_and_honest_feature_is_not(loans) -> None:
    features = ["honest", "x2", "x3", "term_months"]
    report = build_data_report(loans, LABEL, features)
    table = report.features_
    # The raw-value AUC alone misses it; binning (IV) does not.
    assert table.at["term_months", "univariate_auc"] < 0.9
    assert table.at["term_months", "iv"] > 1.0
    assert report.leaky_ == ["term_months"]
    (warning,) = [w for w in report.warnings_ if w.startswith("term_months:")]
    assert "suspicious: IV" in warning and f"{table.at['term_months', 'iv']:.3f}" in warning
    assert table.at["term_months", "gain_share"] > table.at["honest", "gain_share"]
    assert table.at["term_months", "valid_auc_drop"] > 0.05
    assert "honest" not in report.leaky_
    assert table.at["honest", "binned_auc"] > 0.65  # strong, yet not flagged
    assert report.to_dict()["thresholds"]["iv_suspicious"] == 1.0


def test_thresholds_are_configurable(loans) -> None:
    report = build_data_report(
        loans,
        LABEL,
        ["honest", "x2", "x3", "term_months"],
        iv_suspicious=5.0,
        iv_check=4.0,
        max_gain_share=0.99,
        max_auc_drop=0.4,
    )
    assert report.leaky_ == []


def test_exclude_leaky_drops_the_rewritten_term(loans, tmp_path, monkeypatch) -> None:
    from models.spec import LGBMSpec
    from training.run import train

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("TECHRISK_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    table = pd.concat([f.assign(part=s) for s, f in loans.items()], ignore_index=True)
    table.insert(0, "loan_id", [f"L{i}" for i in range(len(table))])
    table.to_csv(tmp_path / "loans.csv", index=False)
    config = TrainConfig(
        path=tmp_path / "loans.csv",
        date_column=None,
        split_column="part",
        product_column=None,
        exclude_leaky=True,
        experiment="leak",
        registered_name="leak-pd",
    )
    result = train(config, LGBMSpec(num_boost_round=200, early_stopping_rounds=30))
    assert "term_months" not in result.model.features
    assert "honest" in result.model.features
    assert any(w.startswith("term_months: suspicious") for w in result.warnings)


# ------------------------------------------------------------ types
def test_numbers_written_as_text_parse() -> None:
    values = pd.Series(
        [
            "1,234",
            "¥ 32,812.50",
            "n/a",
            "-",
            "—",
            "",
            None,
            "12.5%",
            "(1,000)",
            "NULL",
            "3 400",
            "500元",
            "$7",
        ]
    )
    numbers, placeholder, percent = parse_number_text(values)
    expected = [
        1234,
        32812.5,
        np.nan,
        np.nan,
        np.nan,
        np.nan,
        np.nan,
        0.125,
        -1000,
        np.nan,
        3400,
        500,
        7,
    ]
    np.testing.assert_array_equal(numbers.to_numpy(), np.array(expected, dtype=float))
    assert placeholder.sum() == 6 and percent.sum() == 1


def _bank_table(tmp_path, rng: np.random.Generator, n: int = 600) -> TrainConfig:
    y = (rng.random(n) < 0.2).astype(int)
    amount = rng.integers(1_000, 90_000, size=n)
    frame = pd.DataFrame(
        {
            "loan_id": [f"B{i}" for i in range(n)],
            "bad": np.where(y == 1, "Y", "N"),
            "sample": rng.choice(["train", "validation", "test"], size=n, p=[0.6, 0.2, 0.2]),
            "amount": [f"{a:,}" if i % 10 else "n/a" for i, a in enumerate(amount)],
            "rate": [f"{r:.1f}%" for r in rng.uniform(3, 12, size=n)],
            "comment": [f"visited site {i}, owner {rng.integers(1e6)}" for i in range(n)],
            "branch": [f"branch-{i % 40}" for i in range(n)],
            "region": rng.choice(["north", "south"], size=n),
        }
    )
    frame.to_csv(tmp_path / "bank.csv", index=False)
    return TrainConfig(
        path=tmp_path / "bank.csv",
        label_column="bad",
        positive_label="Y",
        date_column=None,
        split_column="sample",
        product_column=None,
    )


def test_bank_export_columns_parse_and_free_text_is_reported_not_used(tmp_path) -> None:
    data = load_training_data(_bank_table(tmp_path, np.random.default_rng(1)))
    assert data.features == ["amount", "rate", "branch", "region"]
    assert data.frame["amount"].dtype == np.float64
    assert data.frame["amount"].isna().sum() == 60  # every tenth is "n/a"
    assert data.frame["rate"].between(0.03, 0.12).all()
    assert data.categorical == ["branch", "region"]
    assert set(np.unique(data.split.labels)) == {"train", "valid", "oot"}
    assert data.y.mean() == pytest.approx(0.2, abs=0.05)
    messages = data.types.messages()
    (amount,) = [m for m in messages if m.startswith("amount:")]
    assert "540 value(s) parsed" in amount and "'n/a' ×60" in amount
    (comment,) = [m for m in messages if m.startswith("comment:")]
    assert "free text, not used" in comment and "visited site 0" in comment and "rule" in comment
    assert any(
        m.startswith(
            f"branch: high-cardinality categorical (40 levels > {HIGH_CARDINALITY_LEVELS})"
        )
        for m in messages
    )


def test_config_errors_name_key_column_values_and_rule(tmp_path) -> None:
    config = _bank_table(tmp_path, np.random.default_rng(2))
    with pytest.raises(
        ConfigError, match=r"label column 'bad' must be binary.*'N'.*positive_label"
    ):
        load_training_data(replace(config, positive_label=None))
    with pytest.raises(
        ConfigError,
        match=r"positive_label \['yes'\]: value\(s\) \['yes'\] never occur in "
        r"label_column 'bad', whose values are \['N', 'Y'\]",
    ):
        load_training_data(config.with_overrides(positive_label="yes"))
    frame = pd.read_csv(config.path)
    frame.loc[:2, "sample"] = "holdback"
    frame.to_csv(config.path, index=False)
    with pytest.raises(
        ConfigError, match=r"split_column 'sample': values \['holdback'\] \(3 row\(s\)\).*rule"
    ):
        load_training_data(config)


def test_positive_label_list_and_numeric_codes(tmp_path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('[data]\npath = "t.csv"\npositive_label = [2, 3]\nlabel_description = "x"\n')
    config = TrainConfig.from_toml(toml)
    assert config.positive_label == (2, 3) and config.label_description == "x"
    rng = np.random.default_rng(3)
    n = 300
    pd.DataFrame(
        {
            "loan_id": range(n),
            "default_12m": rng.choice([1, 2, 3], size=n, p=[0.7, 0.2, 0.1]),
            "x": rng.normal(size=n),
        }
    ).to_csv(tmp_path / "t.csv", index=False)
    data = load_training_data(replace(config, date_column=None, product_column=None))
    raw = pd.read_csv(tmp_path / "t.csv")["default_12m"].to_numpy()
    np.testing.assert_array_equal(data.y, (raw >= 2).astype(float))
