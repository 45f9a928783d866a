"""Evaluation metrics for a PD model.

Discrimination (AUC, Gini, KS), calibration (Brier, ECE, default rate per
grade and its monotonicity) and stability (PSI). numpy and scikit-learn only,
so the same functions serve training runs, monitoring and tests.

Conventions: ``y`` is 1 for default; a score argument is *risk-ordered*
(higher means more likely to default, e.g. PD or the LightGBM margin). Pass a
PDO credit score negated, or use PD.
"""

from __future__ import annotations

import numbers

import numpy as np
import numpy.typing as npt
import pandas
from sklearn.metrics import roc_auc_score, roc_curve

__all__ = [
    "auc",
    "brier",
    "ece",
    "gini",
    "grade_default_rates",
    "is_monotone",
    "ks",
    "psi",
]


def _check_binary(y: npt.ArrayLike, name: str = "y") -> npt.NDArray[np.float64]:
    arr = np.asarray(y, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError(f"{name} is empty.")
    ok = (arr == 0) | (arr == 1)
    if not np.all(ok):
        raise ValueError(f"{name} must contain only 0 and 1; got {arr[~ok][0]}.")
    return arr


def _check_finite(x: npt.ArrayLike, name: str, n: int | None = None) -> npt.NDArray[np.float64]:
    arr = np.asarray(x, dtype=np.float64).ravel()
    if n is not None and arr.size != n:
        raise ValueError(f"{name} must have the same length as y; got {arr.size} and {n}.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {arr[~np.isfinite(arr)][0]}.")
    return arr


def _check_pd(pd_: npt.ArrayLike, n: int) -> npt.NDArray[np.float64]:
    arr = _check_finite(pd_, "pd", n)
    if np.any((arr < 0) | (arr > 1)):
        raise ValueError(f"pd must be in [0, 1]; got {arr[(arr < 0) | (arr > 1)][0]}.")
    return arr


def _check_both_classes(y: npt.NDArray[np.float64]) -> None:
    if y.min() == y.max():
        raise ValueError(
            f"y contains only class {int(y[0])}; AUC and KS need defaults and non-defaults."
        )


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")
    return int(value)


# ----------------------------------------------------------------------------
# Discrimination
# ----------------------------------------------------------------------------
def auc(y: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Area under the ROC curve.

    Parameters
    ----------
    y : array-like of {0, 1}
        1 for default.
    score : array-like
        Risk-ordered score (higher = riskier), e.g. PD.

    Returns
    -------
    float
        Probability that a random defaulter outranks a random non-defaulter
        (ties count one half). 1 is a perfect ranking, 0.5 chance.
    """
    yy = _check_binary(y)
    s = _check_finite(score, "score", yy.size)
    _check_both_classes(yy)
    return float(roc_auc_score(yy, s))


def gini(y: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Gini coefficient (accuracy ratio), ``2 * AUC - 1``."""
    return 2.0 * auc(y, score) - 1.0


def ks(y: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Kolmogorov-Smirnov statistic.

    The largest gap between the cumulative score distributions of
    defaulters and non-defaulters, ``max(TPR - FPR)`` over all thresholds;
    in [0, 1]. Computed on the ROC curve, so tied scores are never split.

    Parameters
    ----------
    y : array-like of {0, 1}
    score : array-like
        Risk-ordered score (higher = riskier).
    """
    yy = _check_binary(y)
    s = _check_finite(score, "score", yy.size)
    _check_both_classes(yy)
    fpr, tpr, _ = roc_curve(yy, s, drop_intermediate=False)
    return float(np.max(tpr - fpr))


# ----------------------------------------------------------------------------
# Calibration
# ----------------------------------------------------------------------------
def brier(y: npt.ArrayLike, pd: npt.ArrayLike) -> float:
    """Brier score, ``mean((pd - y) ** 2)``; lower is better."""
    yy = _check_binary(y)
    p = _check_pd(pd, yy.size)
    return float(np.mean((p - yy) ** 2))


def ece(y: npt.ArrayLike, pd: npt.ArrayLike, n_bins: int = 10) -> float:
    """Expected calibration error over equal-frequency bins of predicted PD.

    Rows are sorted by predicted PD (stable sort, so ties keep input order)
    and split into ``n_bins`` groups whose sizes differ by at most one
    (``numpy.array_split``). Then

    ``ECE = sum_b (n_b / n) * |mean(y_b) - mean(pd_b)|``.

    Equal-frequency rather than equal-width bins because a PD model's
    predictions crowd at a few per cent: equal-width bins on [0, 1] would
    put nearly every row in the first bin and measure nothing. Tied PDs may
    straddle a bin edge; that moves at most a few rows and keeps every bin
    the same size.

    Parameters
    ----------
    y : array-like of {0, 1}
    pd : array-like of predicted PD in [0, 1]
    n_bins : int, default=10
        Deciles, the usual calibration table. Fewer than 10 * n_bins rows per
        dataset makes the estimate noisy.

    Returns
    -------
    float
        In [0, 1]; 0 for perfect calibration within every bin. Even a
        perfectly calibrated model scores slightly above 0 in a finite sample.
    """
    yy = _check_binary(y)
    p = _check_pd(pd, yy.size)
    n_bins = _check_int("n_bins", n_bins, 1)
    if n_bins > yy.size:
        raise ValueError(f"n_bins must be <= the number of rows ({yy.size}); got {n_bins}.")
    order = np.argsort(p, kind="stable")
    total = 0.0
    for idx in np.array_split(order, n_bins):
        total += idx.size * abs(yy[idx].mean() - p[idx].mean())
    return float(total / yy.size)


def grade_default_rates(
    grades: npt.ArrayLike, y: npt.ArrayLike, pd: npt.ArrayLike | None = None
) -> pandas.DataFrame:
    """Observed default rate per grade, for the model card and backtests.

    Parameters
    ----------
    grades : array-like of int
        Master-scale grade per row (1 = best).
    y : array-like of {0, 1}
    pd : array-like, optional
        Predicted PD per row; adds the column ``pd_mean`` to compare the
        grade's predicted and observed default rate.

    Returns
    -------
    DataFrame
        One row per grade present, sorted by grade: ``grade, n, defaults,
        default_rate`` and, if ``pd`` is given, ``pd_mean``.
    """
    yy = _check_binary(y)
    g = np.asarray(grades).ravel()
    if g.size != yy.size:
        raise ValueError(f"grades must have the same length as y; got {g.size} and {yy.size}.")
    levels, inv = np.unique(g, return_inverse=True)
    n = np.bincount(inv, minlength=levels.size)
    defaults = np.bincount(inv, weights=yy, minlength=levels.size)
    out = {
        "grade": levels,
        "n": n.astype(np.int64),
        "defaults": defaults.astype(np.int64),
        "default_rate": defaults / n,
    }
    if pd is not None:
        p = _check_pd(pd, yy.size)
        out["pd_mean"] = np.bincount(inv, weights=p, minlength=levels.size) / n
    return pandas.DataFrame(out)


def is_monotone(rates: npt.ArrayLike, increasing: bool = True, strict: bool = False) -> bool:
    """Whether a sequence (e.g. default rate by grade 1..10) is monotone.

    Parameters
    ----------
    rates : array-like
        In grade order. NaNs are not allowed: an empty grade should be
        dropped, not silently pass.
    increasing : bool, default=True
        Default rates should rise with the grade number (grade 1 best).
    strict : bool, default=False
        Require strict monotonicity (two grades with the same observed rate
        fail).
    """
    if not isinstance(increasing, bool):
        raise TypeError(f"increasing must be a boolean; got {increasing!r}.")
    if not isinstance(strict, bool):
        raise TypeError(f"strict must be a boolean; got {strict!r}.")
    r = np.asarray(rates, dtype=np.float64).ravel()
    if np.isnan(r).any():
        raise ValueError("rates must not contain NaN.")
    d = np.diff(r) if increasing else -np.diff(r)
    return bool(np.all(d > 0) if strict else np.all(d >= 0))


# ----------------------------------------------------------------------------
# Stability
# ----------------------------------------------------------------------------
def psi(
    expected_scores: npt.ArrayLike,
    actual_scores: npt.ArrayLike,
    bins: int = 10,
    eps: float = 1e-4,
) -> float:
    """Population stability index of a score distribution.

    ``PSI = sum_b (a_b - e_b) * ln(a_b / e_b)`` over bins whose edges are
    the quantiles of the *expected* (reference, e.g. training) scores, so
    each bin holds about ``1 / bins`` of the reference. Bins are
    ``(-inf, q_1], (q_1, q_2], ..., (q_{bins-1}, inf)``: open-ended, so
    actual scores outside the reference range still count. Duplicate
    quantiles (heavily tied scores) are merged, which leaves fewer bins.
    Empty bins are floored at ``eps`` in both distributions so the log is
    finite.

    Rule of thumb: < 0.1 stable, 0.1-0.25 drifting, > 0.25 shifted.

    Parameters
    ----------
    expected_scores : array-like
        Reference distribution.
    actual_scores : array-like
        Distribution to compare (e.g. this month's applications).
    bins : int, default=10
        Deciles of the reference, the industry convention.
    eps : float, default=1e-4
        Floor for a bin's share.

    Returns
    -------
    float, >= 0
    """
    e = _check_finite(expected_scores, "expected_scores")
    a = _check_finite(actual_scores, "actual_scores")
    bins = _check_int("bins", bins, 1)
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0 < eps < 1:
        raise ValueError(f"eps must be in (0, 1); got {eps!r}.")
    inner = np.unique(np.quantile(e, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    # side="left": a value equal to an edge falls in the bin that edge closes.
    e_share = np.bincount(np.searchsorted(inner, e, side="left"), minlength=inner.size + 1) / e.size
    a_share = np.bincount(np.searchsorted(inner, a, side="left"), minlength=inner.size + 1) / a.size
    e_share = np.maximum(e_share, eps)
    a_share = np.maximum(a_share, eps)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))
