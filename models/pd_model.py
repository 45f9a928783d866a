"""What a trained model *is*: a margin plus everything that turns it into a decision.

The margin is the LightGBM booster's, a WoE scorecard's logit, or a blend
``w · booster margin + (1 − w) · scorecard logit`` (whichever won on validation). All three
explain themselves exactly in margin units (TreeSHAP, WoE terms, or their ``w``-weighted sum),
so reasons in score points add up to the score whichever is served.

``PDModel`` bundles the margin's parts, the feature encoder, the Platt calibration, the
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
from models.reference import DriftReference
from models.scale import DecisionPolicy, MasterScale, ScoreScale
from models.scorecard import WoEScorecard
from models.treeshap import GBMContributions, explainer_for

BOOSTER_FILE = "booster.txt"
PARAMS_FILE = "pd_model.json"
COHORTS_FILE = "cohorts.json"
REASONS_FILE = "reasons.json"
SCORECARD_FILE = "scorecard.json"
REFERENCE_FILE = "drift_reference.json"


class Scores(NamedTuple):
    margin: np.ndarray  # raw log-odds (booster, scorecard or blend), what contributions explain
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
    booster: lgb.Booster | None
    encoder: FeatureEncoder
    calibrator: PlattCalibrator
    #: The WoE scorecard, when it is the model or half of a blend.
    scorecard: WoEScorecard | None = None
    #: ``w`` in ``w · booster margin + (1 − w) · scorecard logit``: 1 booster, 0 scorecard.
    blend_weight: float = 1.0
    scale: ScoreScale = field(default_factory=ScoreScale)
    master: MasterScale = field(default_factory=MasterScale)
    policy: DecisionPolicy = field(default_factory=DecisionPolicy)
    cohorts: PeerCohorts | None = None
    cohort_columns: CohortColumns | None = None
    reasons: ReasonBuilder | None = None
    #: Training histograms that ``techrisk monitor`` measures drift against.
    reference: DriftReference | None = None
    #: Free-form facts about the model (training window, metrics) for metadata endpoints.
    info: dict[str, Any] = field(default_factory=dict)
    #: The booster's TreeSHAP, rebuilt from its dump whenever a model is made (never saved);
    #: None for a scorecard-only model.
    gbm_explainer: GBMContributions | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        w = self.blend_weight
        if not 0.0 <= w <= 1.0:
            raise ValueError(f"blend_weight must be in [0, 1]; got {w}")
        if w > 0 and self.booster is None:
            raise ValueError(f"blend_weight {w} > 0 needs a booster; got none")
        if w < 1 and self.scorecard is None:
            raise ValueError(f"blend_weight {w} < 1 needs a scorecard; got none")
        if self.scorecard is not None and self.scorecard.features != self.encoder.features:
            raise ValueError("the scorecard's feature order differs from the encoder's")
        self.gbm_explainer = None if self.booster is None else explainer_for(self.booster)

    @property
    def features(self) -> list[str]:
        return self.encoder.features

    @property
    def kind(self) -> str:
        """``gbm``, ``scorecard`` or ``blend``: which margin is served."""
        if self.blend_weight == 1.0:
            return "gbm"
        return "scorecard" if self.blend_weight == 0.0 else "blend"

    # -- scoring ------------------------------------------------------------------------------
    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        return self.encoder.transform(frame)

    def margin(self, X: np.ndarray) -> np.ndarray:
        w = self.blend_weight
        if w == 1.0:
            return self.booster.predict(X, raw_score=True)
        out = (1.0 - w) * self.scorecard.logit(X)
        if w > 0.0:
            out += w * self.booster.predict(X, raw_score=True)
        return out

    def scores_from_margin(self, margin: np.ndarray) -> Scores:
        logit = self.calibrator.predict_logit(margin)
        pd_ = 1.0 / (1.0 + np.exp(-logit))
        return Scores(margin, pd_, self.scale.score_from_logit(logit), self.master.grade(pd_))

    def score(self, X: np.ndarray) -> Scores:
        return self.scores_from_margin(self.margin(X))

    def contributions(self, X: np.ndarray, threads: int = 0) -> np.ndarray:
        """Exact contributions to the margin, shape (n, n_features + 1); last = bias.

        ``w · TreeSHAP + (1 − w) · WoE terms``: each part sums to its own margin, so the
        weighted sum sums to the blended one. ``threads`` 0 lets LightGBM use every core;
        callers that run several predictions at once (batch screening) give each one its share.
        """
        w = self.blend_weight
        if w == 1.0:
            return self.gbm_contributions(X, threads)
        out = (1.0 - w) * self.scorecard.contributions(X)
        if w > 0.0:
            out += w * self.gbm_contributions(X, threads)
        return out

    def gbm_contributions(self, X: np.ndarray, threads: int = 0) -> np.ndarray:
        """The booster's exact TreeSHAP contributions to its own margin (bias last): per-leaf
        tables (``models.treeshap``), equal to LightGBM's ``pred_contrib`` to rounding and
        ~20× faster."""
        if self.gbm_explainer is None:
            raise ValueError("this model has no booster: it is a scorecard")
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
        if self.booster is not None:
            self.booster.save_model(str(directory / BOOSTER_FILE))
        if self.scorecard is not None:
            (directory / SCORECARD_FILE).write_text(json.dumps(self.scorecard.to_dict()))
        params = {
            "blend_weight": self.blend_weight,
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
        if self.reference is not None:
            (directory / REFERENCE_FILE).write_text(json.dumps(self.reference.to_dict()))
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
        booster_path = directory / BOOSTER_FILE
        scorecard_path = directory / SCORECARD_FILE
        reference_path = directory / REFERENCE_FILE
        encoder = FeatureEncoder.from_dict(params["encoder"])
        return cls(
            booster=lgb.Booster(model_file=str(booster_path)) if booster_path.exists() else None,
            encoder=encoder,
            calibrator=PlattCalibrator.from_dict(params["calibrator"]),
            scorecard=(
                WoEScorecard.from_dict(json.loads(scorecard_path.read_text()))
                if scorecard_path.exists()
                else None
            ),
            blend_weight=float(params.get("blend_weight", 1.0)),
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
            reference=(
                DriftReference.from_dict(json.loads(reference_path.read_text()))
                if reference_path.exists()
                else None
            ),
            info=params["info"],
        )
