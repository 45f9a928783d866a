"""Stage 4 of a run: the servable contenders, and the champion chosen on validation only.

Three contenders can be served with exact reasons: the tuned booster (``gbm``), the WoE
scorecard (``scorecard``) and a blend ``w · booster margin + (1 − w) · scorecard logit``
(``blend``, ``w`` chosen by validation AUC on a grid). Each is Platt-calibrated on the
validation slice. The champion is the contender with the highest validation AUC; the OOT slice
is never read here, so its figures stay an honest test of the choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from models.calibration import PlattCalibrator
from models.encoding import FeatureEncoder
from models.pd_model import PDModel
from models.scorecard import WoEScorecard
from training import metrics
from training.fit import GBMFit

#: Servable contenders, in order of preference when validation AUCs tie.
SERVABLE = ("gbm", "scorecard", "blend")
#: Booster weights tried for the blend (the ends are the pure contenders).
BLEND_WEIGHTS = tuple(np.round(np.arange(0.05, 1.0, 0.05), 2))


@dataclass
class Candidate:
    """A servable contender: its margin on every split and its Platt map."""

    id: str
    blend_weight: float  # 1 booster only, 0 scorecard only
    margins: dict[str, np.ndarray]
    calibrator: PlattCalibrator

    def pd(self, split: str) -> np.ndarray:
        return self.calibrator.predict_pd(self.margins[split])


def _calibrated(
    id_: str, weight: float, margins: dict[str, np.ndarray], y_valid: np.ndarray
) -> Candidate | str:
    """The candidate, or why it cannot be served (e.g. a constant margin: no split found)."""
    try:
        calibrator = PlattCalibrator().fit(margins["valid"], y_valid)
    except ValueError as exc:
        return f"contender '{id_}' dropped: its validation margin cannot be calibrated ({exc})"
    return Candidate(id_, weight, margins, calibrator)


def candidates(
    gbm: GBMFit | None,
    scorecard: WoEScorecard | None,
    matrices: Mapping[str, np.ndarray],
    y_valid: np.ndarray,
    fixed_weight: float | None = None,
) -> tuple[dict[str, Candidate], list[str]]:
    """Every servable contender that calibrates, and a note for each one that does not.

    ``fixed_weight`` is the blend's booster weight when it was chosen elsewhere (on folds, see
    ``training/folds.py``); None chooses it on the validation slice."""
    margins: dict[str, dict[str, np.ndarray]] = {}
    if gbm is not None:
        margins["gbm"] = {s: gbm.booster.predict(X, raw_score=True) for s, X in matrices.items()}
    if scorecard is not None:
        margins["scorecard"] = {s: scorecard.logit(X) for s, X in matrices.items()}
    out: dict[str, Candidate] = {}
    notes: list[str] = []
    for id_, weight in (("gbm", 1.0), ("scorecard", 0.0)):
        if id_ in margins:
            fitted = _calibrated(id_, weight, margins[id_], y_valid)
            if isinstance(fitted, str):
                notes.append(fitted)
            else:
                out[id_] = fitted
    if {"gbm", "scorecard"} <= set(out):
        w = fixed_weight
        if w is None:
            w = blend_weight(margins["gbm"]["valid"], margins["scorecard"]["valid"], y_valid)
        blended = {s: w * margins["gbm"][s] + (1 - w) * margins["scorecard"][s] for s in matrices}
        fitted = _calibrated("blend", w, blended, y_valid)
        if isinstance(fitted, str):
            notes.append(fitted)
        else:
            out["blend"] = fitted
    return out, notes


def blend_weight(gbm_valid: np.ndarray, scorecard_valid: np.ndarray, y_valid: np.ndarray) -> float:
    """The booster weight of :data:`BLEND_WEIGHTS` with the best validation AUC."""
    aucs = [metrics.auc(y_valid, w * gbm_valid + (1 - w) * scorecard_valid) for w in BLEND_WEIGHTS]
    return float(BLEND_WEIGHTS[int(np.argmax(aucs))])


def choose_champion(valid: Mapping[str, Mapping[str, float]]) -> str:
    """The servable contender with the highest validation AUC (ties: :data:`SERVABLE` order).

    Takes validation figures only, so no OOT number can reach the choice.
    """
    ranked = [c for c in SERVABLE if c in valid and "auc" in valid[c]]
    if not ranked:
        raise ValueError(f"no servable contender has a validation AUC; got {sorted(valid)}")
    return max(ranked, key=lambda c: (valid[c]["auc"], -SERVABLE.index(c)))


def champion_model(
    candidate: Candidate,
    encoder: FeatureEncoder,
    gbm: GBMFit | None,
    scorecard: WoEScorecard | None,
) -> PDModel:
    """The packaged model of a contender: only the parts its margin uses."""
    w = candidate.blend_weight
    return PDModel(
        booster=gbm.booster if w > 0 and gbm is not None else None,
        encoder=encoder,
        calibrator=candidate.calibrator,
        scorecard=scorecard if w < 1 else None,
        blend_weight=w,
    )
