"""The scoring kernel: a feature matrix in, everything a decision needs out, for all rows at once.

contributions → PD → score → grade → decision → peer percentile → points → reasons. The
service (``/score``, ``/score_batch`` and their audit rows), batch screening and anything that
scores again — a what-if on modified rows, candidate rows of a counterfactual search, a shadow
model on the same rows — call :func:`score`; none of them repeats a step, so a firm gets the
same answer whichever way it is scored.

The result is columnar (one numpy array per quantity) because its heaviest users hold
millions of rows; reasons, the one part that is words, are made only when asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from models.pd_model import PDModel
from models.reasons import ReasonColumn, RowReasons

#: Reasons per side a loan officer sees (the service); batch screening asks for fewer.
TOP_REASONS = 5


@dataclass(frozen=True)
class Scored:
    """The scores of ``n`` rows, column by column; every array is read-only.

    ``base_points[i] + points[i].sum() == score[i]`` (to float rounding), and
    ``family_points`` regroups ``points`` by the model's reason families.
    """

    #: Feature names, the columns of ``points``.
    features: tuple[str, ...]
    #: Reason families, the columns of ``family_points`` (empty: the model has no reasons).
    families: tuple[str, ...]
    #: LightGBM raw score (log-odds): the sum of the TreeSHAP contributions.
    margin: np.ndarray
    #: Calibrated probability of default within 12 months.
    pd: np.ndarray
    #: Score points, higher is safer.
    score: np.ndarray
    #: Master-scale grade, 1 best (int64).
    grade: np.ndarray
    #: ``approve`` / ``review`` / ``decline`` under the row's product policy.
    decision: np.ndarray
    #: "Safer than X % of peers"; None when the model has no peer cohorts.
    percentile: np.ndarray | None
    #: Score of the reference firm, where every row's points start.
    base_points: np.ndarray
    #: Score points of each feature, shape (n, len(features)); negative raises risk.
    points: np.ndarray
    #: Points per reason family, shape (n, len(families)).
    family_points: np.ndarray
    #: Per row, the families that raise and lower the risk, worded; None when not asked for.
    reasons: tuple[RowReasons, ...] | None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value.flags.writeable = False

    def __len__(self) -> int:
        return len(self.pd)

    def family_points_of(self, i: int) -> dict[str, float]:
        """Row ``i``'s points per family, in the model's family order."""
        return {f: float(p) for f, p in zip(self.families, self.family_points[i], strict=True)}


def score(
    model: PDModel,
    X: np.ndarray,
    products: str | Sequence[str] | np.ndarray,
    *,
    top: int = TOP_REASONS,
    lower: bool = True,
    threads: int = 0,
) -> Scored:
    """Score every row of ``X`` (the model's feature columns, in order).

    ``products`` is one product for all rows or one per row; it picks the decision band.
    ``top`` reasons per side are worded (0: none, for callers that need numbers only, such as
    a counterfactual search scoring many candidate rows); ``lower=False`` words only the
    risk-raising side. ``threads`` is LightGBM's share of the cores (0: all).
    """
    X = np.asarray(X, dtype=np.float64)
    n_features = len(model.features)
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(
            f"X must be a matrix of the model's {n_features} feature columns; got shape {X.shape}."
        )
    n = len(X)
    per_row = not isinstance(products, str)
    if per_row and len(products) != n:
        raise ValueError(f"products must name one product per row ({n}); got {len(products)}.")
    if top < 0:
        raise ValueError(f"top must be >= 0; got {top}.")
    contrib = model.contributions(X, threads=threads) if n else np.zeros((0, n_features + 1))
    scores = model.scores_from_margin(contrib.sum(axis=1))
    base, points = model.points(contrib)
    product = np.asarray(products, dtype=object) if per_row else products
    builder = model.reasons
    totals = builder.family_totals(points) if builder is not None else np.zeros((n, 0))
    reasons: tuple[RowReasons, ...] | None = None
    if top > 0:
        reasons = (
            tuple(builder.explain(X, points, top=top, lower=lower, totals=totals))
            if builder is not None
            else tuple({"raise_risk": [], "lower_risk": []} for _ in range(n))
        )
    return Scored(
        features=tuple(model.features),
        families=builder.family_names if builder is not None else (),
        margin=scores.margin,
        pd=scores.pd,
        score=scores.score,
        grade=np.asarray(scores.grade, dtype=np.int64),
        decision=model.decide(scores.pd, product) if n else np.array([], dtype=str),
        percentile=model.peer_percentile(X, scores.pd) if n else _no_percentile(model),
        base_points=base,
        points=points,
        family_points=totals,
        reasons=reasons,
    )


def risk_columns(model: PDModel, X: np.ndarray, scored: Scored, top: int) -> list[ReasonColumn]:
    """The first ``top`` risk-raising reasons of rows :func:`score` scored (with ``top=0``),
    one column per rank: the words ``score(..., top=top, lower=False)`` gives each row, for
    batch screening, which writes columns and words each distinct feature value once."""
    if model.reasons is None:
        return [ReasonColumn.empty(len(scored)) for _ in range(top)]
    X = np.asarray(X, dtype=np.float64)
    return model.reasons.risk_columns(X, scored.points, top, totals=scored.family_points)


def _no_percentile(model: PDModel) -> np.ndarray | None:
    """The percentile column of zero rows: empty, or None like any row of a cohort-less model."""
    return None if model.cohorts is None or model.cohort_columns is None else np.zeros(0)
