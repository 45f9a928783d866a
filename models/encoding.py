"""Feature frame → float matrix, with string categories mapped to stable integer codes.

Our own feature table is numeric already (categories are registry codes), but a bank's table
brings strings. The codes learnt at fit are stored with the model, so a reloaded model maps
"Shanghai" to the same integer as the one it was trained with; an unseen label becomes NaN
(LightGBM's missing category) instead of an error or a silent wrong code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd


class FeatureEncoder:
    """Orders columns as at fit and encodes the categorical ones."""

    def __init__(self, features: Sequence[str], categorical: Sequence[str] = ()) -> None:
        self.features = list(features)
        self.categorical = list(categorical)

    def fit(self, frame: pd.DataFrame) -> Self:
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise ValueError(f"feature columns missing from the frame: {missing}")
        self.labels_: dict[str, list[str]] = {}
        for col in self.categorical:
            values = frame[col]
            if not pd.api.types.is_numeric_dtype(values):
                self.labels_[col] = sorted(str(v) for v in values.dropna().unique())
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Float64 matrix in fit order; raises naming any missing column."""
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise ValueError(f"feature columns missing from the frame: {missing}")
        columns = []
        for col in self.features:
            values = frame[col]
            if col in self.labels_:
                codes = pd.Categorical(values.astype("string"), categories=self.labels_[col]).codes
                columns.append(np.where(codes < 0, np.nan, codes).astype(np.float64))
            else:
                columns.append(pd.to_numeric(values, errors="coerce").to_numpy(np.float64))
        return np.column_stack(columns) if columns else np.empty((len(frame), 0))

    def to_dict(self) -> dict[str, Any]:
        return {"features": self.features, "categorical": self.categorical, "labels": self.labels_}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        enc = cls(data["features"], data["categorical"])
        enc.labels_ = {k: list(v) for k, v in data["labels"].items()}
        return enc
