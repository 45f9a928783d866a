"""What ``techrisk monitor`` measures on the decisions the service actually served.

Four views, each judged ``ok`` / ``watch`` / ``act`` against configurable thresholds:

* **population drift** per product (and overall) and per monthly window: PSI of every feature
  and of the score against the training histograms stored with the model
  (``models.reference``), and coverage drift (share missing now minus share missing in
  training);
* **champion vs shadow** on the same requests: grade migration matrix, decision flips, and
  PSI of the shadow's score against the champion's on the training score bins;
* **calibration** once outcomes arrive: realised default rate per grade against the mean
  predicted PD, with an exact two-sided binomial test per grade;
* rows that could not be read back (an input the current contract refuses) are counted and
  named, never dropped silently.

Own numpy/scipy rather than evidently: the reference is a stored histogram (no training rows
at monitor time), the shape is product × month × ~70 features, and a binomial test per grade
and a migration matrix are not among evidently's presets; evidently would add a large
dependency tree to recompute from raw rows what is ten lines of numpy here.

The features are recomputed from the audit's canonical inputs through ``features/`` (one
feature code path); the score is recomputed with the monitored model on those features, so
its PSI compares like with like even when earlier decisions were served by another version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError
from scipy.stats import binomtest

from features.registry import FEATURE_NAMES
from models.pd_model import PDModel
from models.reference import ALL, SCORE, DriftReference, psi
from serving.schemas import ScoreRequest
from serving.scoring import request_features
from techrisk_base.errors import TechriskError

STATUSES = ("ok", "watch", "act", "too_few")
#: Decisions in the order of the flip matrix.
DECISION_ORDER = ("approve", "review", "decline")


class MonitorError(TechriskError):
    """The monitor cannot run: no decisions, a model without a reference, a bad threshold."""


@dataclass(frozen=True)
class Thresholds:
    """Where ``watch`` and ``act`` begin; every value is reported in the JSON."""

    psi_watch: float = 0.10
    psi_act: float = 0.25
    #: Rise in the share missing (coverage drop), in absolute share.
    coverage_watch: float = 0.10
    coverage_act: float = 0.25
    #: Per-grade binomial test: watch below this p-value …
    alpha_watch: float = 0.05
    #: … act below this one divided by the number of grades tested (Bonferroni).
    alpha_act: float = 0.01
    #: A window with fewer decisions is reported but not judged: PSI is noise there.
    min_rows: int = 200

    def __post_init__(self) -> None:
        pairs = [
            ("psi", self.psi_watch, self.psi_act),
            ("coverage", self.coverage_watch, self.coverage_act),
        ]
        for name, watch, act in pairs:
            if not 0 < watch <= act:
                raise MonitorError(
                    f"thresholds: {name}_watch ({watch}) must be positive and at most "
                    f"{name}_act ({act})"
                )
        if not 0 < self.alpha_act <= self.alpha_watch < 1:
            raise MonitorError(
                f"thresholds: need 0 < alpha_act ({self.alpha_act}) <= alpha_watch "
                f"({self.alpha_watch}) < 1"
            )
        if self.min_rows < 1:
            raise MonitorError(f"thresholds: min_rows must be at least 1; got {self.min_rows}")

    def of_psi(self, value: float) -> str:
        return _level(value, self.psi_watch, self.psi_act)

    def of_coverage(self, drop: float) -> str:
        return _level(drop, self.coverage_watch, self.coverage_act)


def _level(value: float, watch: float, act: float) -> str:
    if np.isnan(value):
        return "ok"
    return "act" if value > act else "watch" if value > watch else "ok"


def worst(statuses: Iterable[str]) -> str:
    """The most severe of some statuses (``too_few`` counts as ``ok``)."""
    rank = {"ok": 0, "too_few": 0, "watch": 1, "act": 2}
    return max(statuses, key=lambda s: rank[s], default="ok")


# --- reading the audit rows back -------------------------------------------------------------


@dataclass
class Served:
    """The decisions to monitor, with their recomputed features."""

    frame: pd.DataFrame
    X: np.ndarray
    #: Decisions whose stored input could not be read back: request id and the reason.
    unreadable: list[dict[str, str]]


def read_back(rows: Sequence[Mapping[str, Any]], features: Sequence[str]) -> Served:
    """Rebuild each decision's request from its canonical input and its feature row."""
    good: list[Mapping[str, Any]] = []
    requests: list[ScoreRequest] = []
    unreadable = []
    for row in rows:
        try:
            requests.append(ScoreRequest.model_validate(row["input"]))
            good.append(row)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            unreadable.append(
                {"request_id": row["request_id"], "reason": f"{where}: {first['msg']}"}
            )
    frame = pd.DataFrame([{k: v for k, v in r.items() if k != "input"} for r in good])
    if frame.empty:
        return Served(frame, np.empty((0, len(features))), unreadable)
    frame["loan_id"] = [r.application.loan_id for r in requests]
    missing = [f for f in features if f not in FEATURE_NAMES]
    if missing:
        raise MonitorError(
            f"the model's features {missing[:5]} are not built by features/; a model trained "
            "on a bank's own table is monitored on that table, not on served requests"
        )
    index = [FEATURE_NAMES.index(f) for f in features]
    return Served(frame, request_features(requests)[:, index], unreadable)


# --- population drift ------------------------------------------------------------------------


def _window(frame: pd.DataFrame, by: str) -> pd.Series:
    stamps = pd.to_datetime(frame[by], utc=by == "created_at")
    if by == "created_at":
        stamps = stamps.dt.tz_localize(None)
    return stamps.dt.to_period("M").astype(str)


def population_drift(
    served: Served,
    model: PDModel,
    reference: DriftReference,
    thresholds: Thresholds,
    window_by: str = "as_of",
) -> list[dict[str, Any]]:
    """One entry per (segment, month): rows, score PSI, PSI and coverage drift per feature."""
    frame = served.frame
    score = model.score(served.X).score
    months = _window(frame, window_by).to_numpy()
    products = frame["product"].astype(str).to_numpy()
    segments = [ALL, *sorted(set(products))]
    out = []
    for segment in segments:
        in_segment = np.ones(len(frame), bool) if segment == ALL else products == segment
        ref_segment = segment if segment in reference.counts else ALL
        for month in sorted(set(months[in_segment])):
            rows = in_segment & (months == month)
            out.append(
                _window_drift(
                    segment,
                    ref_segment,
                    month,
                    served.X[rows],
                    score[rows],
                    reference,
                    thresholds,
                )
            )
    return out


def _window_drift(
    segment: str,
    ref_segment: str,
    month: str,
    X: np.ndarray,
    score: np.ndarray,
    reference: DriftReference,
    thresholds: Thresholds,
) -> dict[str, Any]:
    hist = reference.histograms(X, score)
    features = {}
    for name in [*reference.features, SCORE]:
        expected = reference.expected(ref_segment, name)
        value = psi(expected, hist[name])
        entry: dict[str, Any] = {"psi": value, "status": thresholds.of_psi(value)}
        if name != SCORE:
            missing_ref = expected[-1] / max(expected.sum(), 1)
            missing_now = hist[name][-1] / max(hist[name].sum(), 1)
            drop = float(missing_now - missing_ref)
            entry.update(
                missing_reference=float(missing_ref),
                missing_now=float(missing_now),
                coverage_drop=drop,
                coverage_status=thresholds.of_coverage(drop),
            )
        features[name] = entry
    score_entry = features.pop(SCORE)
    judged = len(score) >= thresholds.min_rows
    flagged = {
        name: e
        for name, e in features.items()
        if e["status"] != "ok" or e["coverage_status"] != "ok"
    }
    status = (
        worst(
            [score_entry["status"]]
            + [e["status"] for e in features.values()]
            + [e["coverage_status"] for e in features.values()]
        )
        if judged
        else "too_few"
    )
    return {
        "segment": segment,
        "reference_segment": ref_segment,
        "month": month,
        "rows": len(score),
        "status": status,
        "score_psi": score_entry["psi"],
        "score_status": score_entry["status"] if judged else "too_few",
        "flagged_features": sorted(
            flagged, key=lambda n: -max(flagged[n]["psi"], flagged[n]["coverage_drop"])
        ),
        "features": features,
    }


# --- champion vs shadow ----------------------------------------------------------------------


def shadow_comparison(
    frame: pd.DataFrame, reference: DriftReference, grades: int, thresholds: Thresholds
) -> dict[str, Any] | None:
    """Grade migration, decision flips and score PSI on the requests the shadow also scored."""
    if "shadow_grade" not in frame or frame["shadow_grade"].isna().all():
        return None
    both = frame[frame["shadow_grade"].notna()]
    products = both["product"].astype(str)
    out = {}
    for segment in [ALL, *sorted(set(products))]:
        part = both if segment == ALL else both[products == segment]
        out[segment] = _compare(part, reference, grades, thresholds)
    return {
        "status": worst(s["status"] for s in out.values()),
        "shadow_versions": sorted(set(both["shadow_model_version"].astype(str))),
        "champion_versions": sorted(set(both["model_version"].astype(str))),
        "segments": out,
    }


def _compare(
    part: pd.DataFrame, reference: DriftReference, grades: int, thresholds: Thresholds
) -> dict[str, Any]:
    labels = list(range(1, grades + 1))
    migration = pd.crosstab(
        pd.Categorical(part["grade"].astype(int), categories=labels),
        pd.Categorical(part["shadow_grade"].astype(int), categories=labels),
        dropna=False,
    )
    flips = pd.crosstab(
        pd.Categorical(part["decision"], categories=DECISION_ORDER),
        pd.Categorical(part["shadow_decision"], categories=DECISION_ORDER),
        dropna=False,
    )
    bins = reference.bins[SCORE]
    value = psi(bins.counts(part["score"].to_numpy()), bins.counts(part["shadow_score"].to_numpy()))
    moved = part["grade"].astype(int) - part["shadow_grade"].astype(int)
    judged = len(part) >= thresholds.min_rows
    return {
        "rows": len(part),
        "score_psi": value,
        "status": thresholds.of_psi(value) if judged else "too_few",
        "grade_migration": migration.to_numpy().tolist(),
        "grades": labels,
        "same_grade": float((moved == 0).mean()),
        "shadow_worse": float((moved < 0).mean()),
        "shadow_better": float((moved > 0).mean()),
        "decision_flips": flips.to_numpy().tolist(),
        "decisions": list(DECISION_ORDER),
        "flip_rate": float((part["decision"] != part["shadow_decision"]).mean()),
        "mean_pd": float(part["pd"].mean()),
        "mean_shadow_pd": float(part["shadow_pd"].mean()),
    }


# --- realised defaults -----------------------------------------------------------------------


def calibration(
    frame: pd.DataFrame, outcomes: Mapping[str, bool], thresholds: Thresholds
) -> dict[str, Any] | None:
    """Realised default rate per served grade against its mean PD, binomial test per grade.

    The count of defaults among ``n`` loans with PDs ``p_i`` is Poisson-binomial; it is
    tested as binomial with ``p`` the grade's mean PD, which is close within one grade's
    narrow PD band.
    """
    known = frame[frame["loan_id"].isin(outcomes.keys())]
    if known.empty:
        return None
    realised = known["loan_id"].map(outcomes).astype(bool)
    rows = []
    for grade, part in known.groupby(known["grade"].astype(int)):
        n, k = len(part), int(realised[part.index].sum())
        p = float(part["pd"].mean())
        rows.append(
            {
                "grade": int(grade),
                "loans": n,
                "defaults": k,
                "realised_rate": k / n,
                "mean_pd": p,
                "p_value": float(binomtest(k, n, min(max(p, 1e-12), 1 - 1e-12)).pvalue),
            }
        )
    act_alpha = thresholds.alpha_act / len(rows)
    for r in rows:
        r["status"] = (
            "act"
            if r["p_value"] < act_alpha
            else "watch"
            if r["p_value"] < thresholds.alpha_watch
            else "ok"
        )
    return {
        "loans": len(known),
        "defaults": int(realised.sum()),
        "realised_rate": float(realised.mean()),
        "mean_pd": float(known["pd"].mean()),
        "act_alpha_per_grade": act_alpha,
        "status": worst(r["status"] for r in rows),
        "grades": rows,
    }


# --- the whole report ------------------------------------------------------------------------


def monitor(
    rows: Sequence[Mapping[str, Any]],
    model: PDModel,
    model_version: str,
    outcomes: Mapping[str, bool],
    thresholds: Thresholds = Thresholds(),
    window_by: str = "as_of",
) -> dict[str, Any]:
    """Everything the report shows, as plain JSON-able data."""
    if window_by not in ("as_of", "created_at"):
        raise MonitorError(f"window_by must be 'as_of' or 'created_at'; got {window_by!r}")
    if model.reference is None:
        raise MonitorError(
            f"model version {model_version} carries no drift reference (trained before "
            "monitoring existed); retrain it to monitor against its training population"
        )
    if not rows:
        raise MonitorError("the audit store holds no decisions in the period asked for")
    served = read_back(rows, model.reference.features)
    if served.frame.empty:
        raise MonitorError(
            f"none of the {len(rows)} decisions could be read back; first: {served.unreadable[0]}"
        )
    windows = population_drift(served, model, model.reference, thresholds, window_by)
    shadow = shadow_comparison(served.frame, model.reference, model.master.n_grades, thresholds)
    calib = calibration(served.frame, outcomes, thresholds)
    parts = {
        "population": worst(w["status"] for w in windows),
        "shadow": shadow["status"] if shadow else "ok",
        "calibration": calib["status"] if calib else "ok",
    }
    return {
        "status": worst(parts.values()),
        "parts": parts,
        "model_version": model_version,
        "window_by": window_by,
        "thresholds": asdict(thresholds),
        "decisions": len(rows),
        "unreadable": served.unreadable,
        "period": {
            "first": str(served.frame[window_by].min()),
            "last": str(served.frame[window_by].max()),
        },
        "windows": windows,
        "shadow": shadow,
        "calibration": calib,
    }
