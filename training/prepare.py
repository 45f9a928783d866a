"""Stage 1 of a run: the table as the contenders will see it.

Load and type the table, check that every split is large enough to learn from, encode it once
(the booster and the scorecard read the same matrix, so the scorecard can be served from the
model's own feature matrix), fit the WoE scorecard (whose IV the data report reads), and, with
``exclude_leaky``, drop the report's leaky columns and start again without them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.encoding import FeatureEncoder
from training.baselines import ScorecardBaseline
from training.config import SPLITS, ConfigError, TrainConfig
from training.data_report import DataReport, build_data_report
from training.dataset import TrainingData, load_training_data
from training.fit import BoosterInputs

#: Fewest rows, and fewest rows of each class, a split needs. Below them the trees cannot
#: split, early stopping and the Platt map have nothing to read, and AUC is noise.
MIN_ROWS: Mapping[str, int] = {"train": 50, "valid": 15, "oot": 15}
MIN_PER_CLASS: Mapping[str, int] = {"train": 5, "valid": 2, "oot": 2}


@dataclass
class Prepared:
    """Everything the later stages read; nothing here is fitted on valid or OOT rows."""

    data: TrainingData
    encoder: FeatureEncoder
    matrices: dict[str, np.ndarray]  # encoded X per split
    scorecard: ScorecardBaseline | None  # None when no feature carries enough IV
    report: DataReport
    excluded: list[str]
    warnings: list[str]

    def y(self, split: str) -> np.ndarray:
        return self.data.y[self.data.split.mask(split)]

    def booster_inputs(self) -> BoosterInputs:
        """The train and valid matrices and the constraints every booster fit of the run
        shares (the OOT slice is not among them)."""
        d, m = self.data, self.matrices
        return BoosterInputs(
            d.features,
            d.categorical,
            d.directions,
            m["train"],
            self.y("train"),
            m["valid"],
            self.y("valid"),
        )


def check_minimum_size(data: TrainingData) -> None:
    """Raise a ``ConfigError`` naming the first split below :data:`MIN_ROWS` or
    :data:`MIN_PER_CLASS`."""
    for name in SPLITS:
        y = data.y[data.split.mask(name)]
        positives = int(y.sum())
        if len(y) < MIN_ROWS[name]:
            raise ConfigError(
                f"split '{name}' has {len(y)} rows; at least {MIN_ROWS[name]} are needed "
                f"(minimum rows per split: {dict(MIN_ROWS)})"
            )
        fewest = min(positives, len(y) - positives)
        if fewest < MIN_PER_CLASS[name]:
            raise ConfigError(
                f"split '{name}' has {positives} defaults and {len(y) - positives} "
                f"non-defaults; at least {MIN_PER_CLASS[name]} of each are needed"
            )


def fit_scorecard(
    frame: pd.DataFrame, y: np.ndarray, data: TrainingData, seed: int
) -> tuple[ScorecardBaseline | None, str | None]:
    """The scorecard, or None and why (a table where no feature reaches the IV floor).

    It keeps the registry's directions, like the booster: a servable contender must never
    let a better tax rating raise the PD."""
    scorecard = ScorecardBaseline(
        categorical=data.categorical, random_state=seed, directions=data.directions
    )
    try:
        return scorecard.fit(frame, y), None
    except ValueError as exc:
        return None, f"WoE scorecard not fitted: {exc}"


def _encoded_with_scorecard(
    data: TrainingData, seed: int
) -> tuple[FeatureEncoder, dict[str, np.ndarray], ScorecardBaseline | None, str | None]:
    """The encoder, the matrices per split, and the scorecard fitted on the encoded training
    matrix (so that it can be served from the model's own features)."""
    encoder = FeatureEncoder(data.features, data.categorical).fit(data.part("train")[0])
    matrices = {s: encoder.transform(data.part(s)[0]) for s in SPLITS}
    train_frame = pd.DataFrame(matrices["train"], columns=data.features)
    scorecard, why = fit_scorecard(train_frame, data.part("train")[1], data, seed)
    return encoder, matrices, scorecard, why


def prepare(config: TrainConfig, step: Callable[[str], None] = lambda _m: None) -> Prepared:
    """Load, check, encode, fit the scorecard and report on the data (see module doc)."""
    step("reading the feature table")
    data = load_training_data(config)
    check_minimum_size(data)
    step("data report and WoE scorecard baseline")
    encoder, matrices, scorecard, why = _encoded_with_scorecard(data, config.seed)
    slices = {
        name: data.part(name)[0].assign(**{config.label_column: data.part(name)[1]})
        for name in SPLITS
    }
    # The report describes the table as given, leaky columns included, so that it says why
    # they were dropped.
    report = build_data_report(
        slices,
        config.label_column,
        data.features,
        max_univariate_auc=config.max_univariate_auc,
        # The report bins the table as given (categories as text); the scorecard is fitted on
        # the encoded matrix it is served from, so its binning is not reused here.
        categorical=data.categorical,
        iv_suspicious=config.iv_suspicious,
        iv_check=config.iv_check,
        max_gain_share=config.max_gain_share,
        max_auc_drop=config.max_auc_drop,
        notes=data.types.messages(),
    )
    excluded: list[str] = []
    if config.exclude_leaky and report.leaky_:
        excluded = list(report.leaky_)
        data = load_training_data(config.with_overrides(exclude=(*config.exclude, *excluded)))
        encoder, matrices, scorecard, why = _encoded_with_scorecard(data, config.seed)
    notes = [*report.warnings_, *([why] if why else [])]
    return Prepared(data, encoder, matrices, scorecard, report, excluded, notes)
