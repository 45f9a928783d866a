"""Time split leaks nothing; config and table mistakes are named clearly."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.config import ConfigError, TrainConfig
from training.dataset import load_training_data
from training.split import random_split, time_split


def test_time_split_leaks_nothing(small_config) -> None:
    data = load_training_data(small_config)
    d = pd.to_datetime(data.dates)
    train, valid, oot = (data.split.mask(s) for s in ("train", "valid", "oot"))
    assert d[train].max() < d[valid].min()
    assert d[valid].max() < d[oot].min()
    assert d[oot].min() >= pd.Timestamp(data.split.oot_start)
    assert d[train].max() < pd.Timestamp(data.split.valid_start)


def test_explicit_split_dates_are_used_and_recorded() -> None:
    dates = pd.Series(pd.date_range("2019-01-01", "2024-12-31", freq="7D"))
    split = time_split(dates, date(2022, 1, 1), date(2023, 1, 1))
    assert split.describe() == {
        "split_kind": "time",
        "valid_start": "2022-01-01",
        "oot_start": "2023-01-01",
    }
    assert (dates[split.mask("oot")] >= "2023-01-01").all()


def test_random_split_is_seeded_and_recorded() -> None:
    a, b = random_split(1_000, (0.6, 0.2, 0.2), 3), random_split(1_000, (0.6, 0.2, 0.2), 3)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.kind == "random"


def _table(tmp_path: Path, **overrides) -> Path:
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame(
        {
            "loan_id": [f"L{i}" for i in range(n)],
            "applied_on": pd.date_range("2020-01-01", periods=n, freq="D"),
            "default_12m": rng.integers(0, 2, n),
            "x1": rng.normal(size=n),
        }
    )
    for k, v in overrides.items():
        frame[k] = v
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    return path


def test_missing_column_is_named(tmp_path) -> None:
    cfg = TrainConfig(path=_table(tmp_path), product_column=None, label_column="bad_flag")
    with pytest.raises(ConfigError, match="label column 'bad_flag' is not in the table"):
        load_training_data(cfg)


def test_non_binary_label_is_named(tmp_path) -> None:
    path = _table(tmp_path, default_12m=np.arange(600) % 3)
    with pytest.raises(ConfigError, match=r"label column 'default_12m' must be binary.*2"):
        load_training_data(TrainConfig(path=path, product_column=None))


def test_empty_split_is_named(tmp_path) -> None:
    cfg = TrainConfig(
        path=_table(tmp_path),
        product_column=None,
        valid_start=date(2030, 1, 1),
        oot_start=date(2031, 1, 1),
    )
    with pytest.raises(ConfigError, match=r"no rows in split\(s\) \['valid', 'oot'\]"):
        load_training_data(cfg)


def test_config_file_errors(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[data]\npath = "t.parquet"\nlabel = "y"\n')
    with pytest.raises(ConfigError, match=r"unknown config key\(s\).*'label'"):
        TrainConfig.from_toml(bad)
    bad.write_text('[data]\npath = "t.parquet"\n[split]\noot_start = "soon"\n')
    with pytest.raises(ConfigError, match="oot_start must be an ISO date; got 'soon'"):
        TrainConfig.from_toml(bad)
    bad.write_text('[data]\npath = "t.parquet"\n[monotone]\nx1 = 2\n')
    with pytest.raises(ConfigError, match="monotone directions must be -1, 0 or 1"):
        TrainConfig.from_toml(bad)


def test_config_file_reads_a_bank_table(tmp_path) -> None:
    _table(tmp_path)
    good = tmp_path / "bank.toml"
    good.write_text(
        '[data]\npath = "t.parquet"\nproduct_column = "product"\nfeatures = "all"\n'
        "[split]\nvalid_start = 2021-01-01\noot_start = 2021-06-01\n[monotone]\nx1 = 1\n"
    )
    cfg = TrainConfig.from_toml(good)
    assert cfg.path == tmp_path / "t.parquet"
    assert cfg.valid_start == date(2021, 1, 1)
    assert dict(cfg.monotone) == {"x1": 1}
