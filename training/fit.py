"""Fit the booster with early stopping on the validation slice, then calibrate on it."""

from __future__ import annotations

import time
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np

from models.calibration import PlattCalibrator
from models.encoding import FeatureEncoder
from models.pd_model import PDModel
from models.spec import LGBMSpec
from training.dataset import TrainingData


@dataclass
class FitResult:
    model: PDModel
    best_iteration: int
    fit_seconds: float
    matrices: dict[str, np.ndarray]  # encoded X per split, reused by evaluation


def fit_pd_model(data: TrainingData, spec: LGBMSpec) -> FitResult:
    train, y_train = data.part("train")
    encoder = FeatureEncoder(data.features, data.categorical).fit(train)
    matrices = {name: encoder.transform(data.part(name)[0]) for name in ("train", "valid", "oot")}
    params = spec.lgb_params(data.features, data.directions, data.categorical)
    cat_idx = [data.features.index(c) for c in data.categorical]
    dtrain = lgb.Dataset(
        matrices["train"],
        y_train,
        feature_name=data.features,
        categorical_feature=cat_idx,
        free_raw_data=False,
    )
    dvalid = dtrain.create_valid(matrices["valid"], data.part("valid")[1])
    start = time.perf_counter()
    booster = lgb.train(
        params,
        dtrain,
        num_boost_round=spec.num_boost_round,
        valid_sets=[dvalid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(spec.early_stopping_rounds, verbose=False)],
    )
    fit_seconds = time.perf_counter() - start
    booster = booster.model_from_string(
        booster.model_to_string(num_iteration=booster.best_iteration)
    )
    calibrator = PlattCalibrator().fit(
        booster.predict(matrices["valid"], raw_score=True), data.part("valid")[1]
    )
    model = PDModel(booster=booster, encoder=encoder, calibrator=calibrator)
    return FitResult(model, booster.current_iteration(), fit_seconds, matrices)
