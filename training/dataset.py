"""The training table as the run understands it: features, label, split, product, truth.

Everything a bank's table can get wrong is checked here and reported as a ``ConfigError``
naming the column and the rule, before a minute is spent fitting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.registry import REGISTRY, categorical_features
from training.column_types import ColumnTypes, resolve_column_types
from training.config import ConfigError, TrainConfig
from training.split import Split, column_split, random_split, time_split


@dataclass
class TrainingData:
    frame: pd.DataFrame  # features only, in model order
    y: np.ndarray
    ids: np.ndarray
    split: Split
    product: np.ndarray | None
    categorical: list[str]
    directions: dict[str, int]
    truth: np.ndarray | None  # true PD per row (synthetic market only)
    dates: pd.Series | None  # as-of date per row, when the table has one
    #: Text columns parsed as numbers, free-text columns left out, high-cardinality categories.
    types: ColumnTypes = field(default_factory=ColumnTypes)

    @property
    def features(self) -> list[str]:
        return list(self.frame.columns)

    def part(self, name: str) -> tuple[pd.DataFrame, np.ndarray]:
        m = self.split.mask(name)
        return self.frame.loc[m], self.y[m]


def read_table(path: Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"feature table {path} does not exist")
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif path.suffix == ".csv":
        # Only an empty cell is missing on reading: "n/a", "NULL" or "-" in a numeric column
        # stay text so that the column-type step parses them and says how many it saw.
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    else:
        raise ConfigError(f"feature table must be .parquet or .csv; got {path.name}")
    if frame.index.name and frame.index.name not in frame.columns:
        frame = frame.reset_index()
    return frame


def _require(frame: pd.DataFrame, column: str | None, role: str) -> None:
    if column is not None and column not in frame.columns:
        raise ConfigError(
            f"{role} column '{column}' is not in the table; columns are {list(frame.columns)[:20]}"
        )


def _label(
    values: pd.Series, column: str, positive: str | int | tuple[str | int, ...] | None
) -> np.ndarray:
    """The label as 0/1: as given, or 1 where it equals ``positive_label`` (compared as text)."""
    if positive is not None:
        given = positive if isinstance(positive, tuple) else (positive,)
        wanted = {str(v).strip() for v in given}
        if values.isna().any():
            raise ConfigError(
                f"label_column '{column}': {int(values.isna().sum())} row(s) have no label; rule: "
                "every training row needs an outcome"
            )
        text = values.astype(str).str.strip()
        absent = sorted(wanted - set(text))
        if absent:
            raise ConfigError(
                f"positive_label {sorted(wanted)}: value(s) {absent} never occur in label_column "
                f"'{column}', whose values are {sorted(set(text))[:10]}; rule: positive_label "
                "names the label value(s) meaning default"
            )
        y = text.isin(wanted).astype(np.float64)
    else:
        y = pd.to_numeric(values, errors="coerce")
        bad = values[y.isna() | ~y.isin([0, 1])]
        if len(bad):
            raise ConfigError(
                f"label column '{column}' must be binary 0/1 with no missing values; got "
                f"{bad.head(3).tolist()} ({len(bad)} bad row(s)); for other labels set "
                f'positive_label (e.g. positive_label = "Y") under [data]'
            )
    if y.nunique() < 2:
        raise ConfigError(
            f"label column '{column}' has a single class: {values.iloc[0]!r}; rule: both "
            "defaults and non-defaults are needed"
        )
    return y.to_numpy(dtype=np.float64)


def load_training_data(config: TrainConfig) -> TrainingData:
    frame = read_table(config.path)
    for column, role in (
        (config.id_column, "id"),
        (config.label_column, "label"),
        (config.date_column, "date"),
        (config.split_column, "split"),
        (config.product_column, "product"),
    ):
        _require(frame, column, role)
    y = _label(frame[config.label_column], config.label_column, config.positive_label)

    if config.date_column:
        split = time_split(
            frame[config.date_column], config.valid_start, config.oot_start, config.date_column
        )
    elif config.split_column:
        split = column_split(frame[config.split_column], config.split_column)
    else:
        split = random_split(len(frame), config.random_fractions, config.seed)
    for name in ("train", "valid", "oot"):
        if len(np.unique(y[split.mask(name)])) < 2:
            raise ConfigError(
                f"split '{name}' holds a single class of label_column '{config.label_column}' "
                f"({int(split.mask(name).sum())} row(s)); rule: every slice needs defaults and "
                "non-defaults"
            )

    reserved = {
        c
        for c in (
            config.id_column,
            config.label_column,
            config.date_column,
            config.split_column,
            config.product_column,
        )
        if c
    } | {"credit_code"}
    features = (
        list(config.features)
        if config.features
        else [c for c in frame.columns if c not in reserved]
    )
    for column in features:
        _require(frame, column, "feature")
    features = [c for c in features if c not in set(config.exclude)]
    if not features:
        raise ConfigError("no feature columns left after exclusions")
    declared = set(categorical_features(features)) | set(config.categorical)
    frame, features, types = resolve_column_types(frame, features, declared)
    if not features:
        raise ConfigError(
            "no feature columns left: every candidate is free text; rule: a feature is numeric "
            "or a low-cardinality category"
        )
    X = frame[features]
    categorical = sorted(
        (declared & set(features))
        | {c for c in features if not pd.api.types.is_numeric_dtype(X[c])}
    )
    directions = {f: REGISTRY[f].direction for f in features if f in REGISTRY}
    directions.update({k: v for k, v in config.monotone.items() if k in features})
    for c in categorical:
        directions[c] = 0

    truth = None
    if config.truth_path is not None:
        t = pd.read_parquet(config.truth_path).set_index("loan_id")["true_pd"]
        truth = t.reindex(frame[config.id_column]).to_numpy(dtype=np.float64)
    product = frame[config.product_column].astype(str).to_numpy() if config.product_column else None
    return TrainingData(
        frame=X.reset_index(drop=True),
        y=y,
        ids=frame[config.id_column].to_numpy(),
        split=split,
        product=product,
        categorical=categorical,
        directions=directions,
        truth=truth,
        dates=frame[config.date_column].reset_index(drop=True) if config.date_column else None,
        types=types,
    )
