"""What a trained model *is*: the booster plus everything that turns its margin into a decision.

``PDModel`` bundles the LightGBM booster, the feature encoder, the Platt calibration, the
score scale, the master scale, the decision policy per product and the peer cohorts. It is
saved as plain files (the booster's own text format and JSON) so that an explainer or a
calibrator is rebuilt from parameters at load time and never unpickled, and a reloaded model
scores identically.

Hot paths take a float matrix (``build_feature_matrix`` output or ``encode(frame)``) and call
the Booster on numpy: ``LGBMClassifier.predict_proba`` on a one-row DataFrame would spend
about a millisecond validating pandas input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.calibration import PlattCalibrator
from models.cohorts import PeerCohorts, age_band, size_band
from models.encoding import FeatureEncoder
from models.reasons import ReasonBuilder
from models.scale import DecisionPolicy, MasterScale, ScoreScale
from models.treeshap import GBMContributions, explainer_for

BOOSTER_FILE = "booster.txt"
PARAMS_FILE = "pd_model.json"
COHORTS_FILE = "cohorts.json"
REASONS_FILE = "reasons.json"


class Scores(NamedTuple):
    margin: np.ndarray  # LightGBM raw score (log-odds), what TreeSHAP explains
    pd: np.ndarray  # calibrated probability of default within 12 months
    score: np.ndarray  # points, higher is safer
    grade: np.ndarray  # master-scale grade, 1 best


@dataclass(frozen=True)
class CohortColumns:
    """Which feature columns place a firm in its peer cohort (industry × size × age)."""

    industry: str
    revenue: str
    employees: str
    age_years: str

    def keys(self, encoder: FeatureEncoder, X: np.ndarray) -> dict[str, np.ndarray]:
        col = {name: i for i, name in enumerate(encoder.features)}
        return {
            "industry": X[:, col[self.industry]],
            "size_band": size_band(X[:, col[self.revenue]], X[:, col[self.employees]]),
            "age_band": age_band(X[:, col[self.age_years]]),
        }


@dataclass
class PDModel:
    booster: lgb.Booster
    encoder: FeatureEncoder
    calibrator: PlattCalibrator
    scale: ScoreScale = field(default_factory=ScoreScale)
    master: MasterScale = field(default_factory=MasterScale)
    policy: DecisionPolicy = field(default_factory=DecisionPolicy)
    cohorts: PeerCohorts | None = None
    cohort_columns: CohortColumns | None = None
    reasons: ReasonBuilder | None = None
    #: Free-form facts about the model (training window, metrics) for metadata endpoints.
    info: dict[str, Any] = field(default_factory=dict)
    #: The booster's TreeSHAP, rebuilt from its dump whenever a model is made (never saved).
    gbm_explainer: GBMContributions = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.gbm_explainer = explainer_for(self.booster)

    @property
    def features(self) -> list[str]:
        return self.encoder.features

    # -- scoring ------------------------------------------------------------------------------
    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        return self.encoder.transform(frame)

    def margin(self, X: np.ndarray) -> np.ndarray:
        return self.booster.predict(X, raw_score=True)

    def scores_from_margin(self, margin: np.ndarray) -> Scores:
        logit = self.calibrator.predict_logit(margin)
        pd_ = 1.0 / (1.0 + np.exp(-logit))
        return Scores(margin, pd_, self.scale.score_from_logit(logit), self.master.grade(pd_))

    def score(self, X: np.ndarray) -> Scores:
        return self.scores_from_margin(self.margin(X))

    def contributions(self, X: np.ndarray, threads: int = 0) -> np.ndarray:
        """Exact TreeSHAP contributions to the margin, shape (n, n_features + 1); last = bias.

        ``threads`` 0 uses every core; callers that run several predictions at once (batch
        screening) give each one its share. The GBM seam: per-leaf TreeSHAP tables
        (``models.treeshap``), equal to LightGBM's ``pred_contrib`` to rounding and ~20× faster.
        """
        return self.gbm_explainer.contributions(X, threads)

    def points(self, contributions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(base points per row, score points per feature): base + points.sum(1) == score."""
        a, b = self.calibrator.slope_, self.calibrator.intercept_
        return (
            self.scale.base_points(contributions[:, -1], a, b),
            self.scale.points(contributions[:, :-1], a),
        )

    def decide(self, pd_: np.ndarray, product: str | np.ndarray) -> np.ndarray:
        return self.policy.decide(pd_, product)

    def peer_percentile(self, X: np.ndarray, pd_: np.ndarray) -> np.ndarray | None:
        """ "Safer than X % of peers"; None when the model has no cohorts (a bank's table)."""
        if self.cohorts is None or self.cohort_columns is None:
            return None
        return self.cohorts.percentile(self.cohort_columns.keys(self.encoder, X), pd_).percentile

    def fit_cohorts(self, X: np.ndarray, pd_: np.ndarray, columns: CohortColumns) -> None:
        """Peer distributions from the training population, on this model's own PD scale."""
        self.cohort_columns = columns
        keys = pd.DataFrame(columns.keys(self.encoder, X))
        self.cohorts = PeerCohorts().fit(keys, pd_)

    # -- persistence --------------------------------------------------------------------------
    def save(self, directory: Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(directory / BOOSTER_FILE))
        params = {
            "encoder": self.encoder.to_dict(),
            "calibrator": self.calibrator.to_dict(),
            "scale": self.scale.to_dict(),
            "master": self.master.to_dict(),
            "policy": self.policy.to_dict(),
            "cohort_columns": self.cohort_columns.__dict__ if self.cohort_columns else None,
            "info": self.info,
        }
        (directory / PARAMS_FILE).write_text(json.dumps(params, ensure_ascii=False, indent=1))
        if self.cohorts is not None:
            (directory / COHORTS_FILE).write_text(json.dumps(self.cohorts.to_dict()))
        if self.reasons is not None:
            (directory / REASONS_FILE).write_text(
                json.dumps(self.reasons.to_dict(), ensure_ascii=False)
            )
        return directory

    @classmethod
    def load(cls, directory: Path) -> PDModel:
        directory = Path(directory)
        params = json.loads((directory / PARAMS_FILE).read_text())
        cohorts_path = directory / COHORTS_FILE
        reasons_path = directory / REASONS_FILE
        encoder = FeatureEncoder.from_dict(params["encoder"])
        return cls(
            booster=lgb.Booster(model_file=str(directory / BOOSTER_FILE)),
            encoder=encoder,
            calibrator=PlattCalibrator.from_dict(params["calibrator"]),
            scale=ScoreScale.from_dict(params["scale"]),
            master=MasterScale.from_dict(params["master"]),
            policy=DecisionPolicy.from_dict(params["policy"]),
            cohorts=(
                PeerCohorts.from_dict(json.loads(cohorts_path.read_text()))
                if cohorts_path.exists()
                else None
            ),
            cohort_columns=(
                CohortColumns(**params["cohort_columns"]) if params["cohort_columns"] else None
            ),
            reasons=(
                ReasonBuilder.from_dict(encoder.features, json.loads(reasons_path.read_text()))
                if reasons_path.exists()
                else None
            ),
            info=params["info"],
        )
