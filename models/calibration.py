"""Platt calibration of the LightGBM margin.

LightGBM's raw margin is already in log-odds, but boosting with early stopping
and class imbalance leaves it mis-scaled: the ranking is right, the level and
the spread are not. A Platt map ``logit(pd) = a * margin + b`` fixes both while
keeping two properties the rest of the system relies on:

* it is strictly monotone (``a > 0``), so calibration never changes the order
  of two firms, and AUC/KS are the model's own;
* it is affine in the margin, so every TreeSHAP contribution (log-odds units of
  the margin) converts exactly into score points, ``-factor * a * contribution``
  (see :meth:`models.scale.ScoreScale.points`). Isotonic calibration would
  break that additivity.

The map is fitted on the validation slice of the time split (never on the
training slice, whose margins are over-fitted) by unpenalised maximum
likelihood, and stored with the model as two floats.
"""

from __future__ import annotations

import numbers
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

__all__ = ["PlattCalibrator"]

_KIND = "PlattCalibrator"
_FORMAT = 1


def _check_parameters(max_iter: Any, tol: Any) -> None:
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral):
        raise TypeError(f"max_iter must be an integer; got {max_iter!r}.")
    if max_iter <= 0:
        raise ValueError(f"max_iter must be > 0; got {max_iter}.")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real):
        raise TypeError(f"tol must be a real number; got {tol!r}.")
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite number > 0; got {tol}.")


def _check_slope(slope: float) -> None:
    if not np.isfinite(slope) or slope <= 0:
        raise ValueError(
            f"calibration slope must be > 0; got {slope}. A non-positive slope "
            "would reverse (or erase) the model's ranking: a higher margin would "
            "mean a lower PD. Check that the margin is LightGBM's raw log-odds of "
            "default (predict(..., raw_score=True)) and that y is 1 for default."
        )


def _sigmoid(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # exp(-log(1 + exp(-z))) is exact in both tails, unlike 1 / (1 + exp(-z))
    # which overflows for very negative z.
    return np.exp(-np.logaddexp(0.0, -z))


def _neg_log_likelihood(
    z: npt.NDArray[np.float64], y: npt.NDArray[np.float64], w: npt.NDArray[np.float64]
) -> float:
    # -log L = sum w * (log(1 + e^z) - y z)
    return float(np.dot(w, np.logaddexp(0.0, z) - y * z))


class PlattCalibrator(BaseEstimator):
    """Monotone affine map from LightGBM margin to calibrated PD.

    ``logit(pd) = slope_ * margin + intercept_``, fitted by unpenalised 1-D
    logistic regression (Newton's method with step halving, in numpy). No
    penalty: the map has two parameters and is fitted on thousands of
    validation rows, so shrinking the slope towards zero would only
    under-disperse the PDs.

    Parameters
    ----------
    max_iter : int, default=100
        Maximum Newton iterations. Newton converges in well under 20 steps
        on real data; hitting the limit means the classes are (nearly)
        perfectly separated by the margin, where the maximum-likelihood slope
        is infinite, and :meth:`fit` raises rather than return a huge slope.
    tol : float, default=1e-10
        Convergence threshold on the largest Newton step (log-odds units).

    Attributes
    ----------
    slope_ : float
        ``a`` in ``logit(pd) = a * margin + b``; always > 0.
    intercept_ : float
        ``b``.
    n_samples_ : int
        Rows used in the fit (for the model card).
    n_iter_ : int
        Newton iterations used.

    Examples
    --------
    >>> cal = PlattCalibrator().fit(margin_valid, y_valid)   # doctest: +SKIP
    >>> cal.predict_pd(booster.predict(X, raw_score=True))   # doctest: +SKIP
    """

    def __init__(self, max_iter: int = 100, tol: float = 1e-10) -> None:
        self.max_iter = max_iter
        self.tol = tol

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        margin: npt.ArrayLike,
        y: npt.ArrayLike,
        sample_weight: npt.ArrayLike | None = None,
    ) -> Self:
        """Fit the map on a validation slice.

        Parameters
        ----------
        margin : array-like of shape (n_samples,)
            LightGBM raw margin (``raw_score=True``), log-odds of default.
        y : array-like of shape (n_samples,)
            1 for default, 0 otherwise. Both classes must be present.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative row weights (e.g. to re-weight products).

        Returns
        -------
        self : PlattCalibrator

        Raises
        ------
        ValueError
            If inputs are malformed, the margin is constant, Newton does not
            converge (separation), or the fitted slope is <= 0.
        """
        _check_parameters(self.max_iter, self.tol)
        m = np.asarray(margin, dtype=np.float64).ravel()
        yy = np.asarray(y, dtype=np.float64).ravel()
        if m.shape != yy.shape:
            raise ValueError(f"margin and y must have the same length; got {m.size} and {yy.size}.")
        if m.size == 0:
            raise ValueError("margin is empty; need a validation slice to fit on.")
        if not np.all(np.isfinite(m)):
            raise ValueError(
                f"margin must be finite; got {int((~np.isfinite(m)).sum())} non-finite values."
            )
        if not np.all((yy == 0) | (yy == 1)):
            bad = yy[(yy != 0) & (yy != 1)][0]
            raise ValueError(f"y must contain only 0 and 1; got {bad}.")
        if sample_weight is None:
            w = np.ones_like(m)
        else:
            w = np.asarray(sample_weight, dtype=np.float64).ravel()
            if w.shape != m.shape:
                raise ValueError(
                    f"sample_weight must have the same length as margin; got {w.size} and {m.size}."
                )
            if not np.all(np.isfinite(w)) or np.any(w < 0):
                raise ValueError("sample_weight must be finite and >= 0.")
        w_pos = float(np.dot(w, yy))
        w_neg = float(w.sum() - w_pos)
        if w_pos <= 0 or w_neg <= 0:
            raise ValueError(
                "y must contain both classes (with positive weight); got "
                f"{w_pos:g} weighted defaults and {w_neg:g} weighted non-defaults."
            )
        if np.ptp(m[w > 0]) == 0:
            raise ValueError(f"margin is constant ({m[w > 0][0]}); a slope cannot be fitted.")

        a, b, n_iter = self._newton(m, yy, w)
        _check_slope(a)
        self.slope_ = a
        self.intercept_ = b
        self.n_samples_ = int(m.size)
        self.n_iter_ = n_iter
        return self

    def _newton(
        self,
        m: npt.NDArray[np.float64],
        y: npt.NDArray[np.float64],
        w: npt.NDArray[np.float64],
    ) -> tuple[float, float, int]:
        # Start at the identity map: the margin is already LightGBM's log-odds,
        # so (1, 0) is close and Newton converges in a handful of steps.
        theta = np.array([1.0, 0.0])
        loss = _neg_log_likelihood(theta[0] * m + theta[1], y, w)
        for it in range(1, self.max_iter + 1):
            z = theta[0] * m + theta[1]
            p = _sigmoid(z)
            r = w * (p - y)
            grad = np.array([np.dot(r, m), r.sum()])
            h = w * p * (1.0 - p)
            hm = h * m
            hess = np.array([[np.dot(hm, m), hm.sum()], [hm.sum(), h.sum()]])
            try:
                step = np.linalg.solve(hess, grad)
            except np.linalg.LinAlgError as exc:
                raise ValueError(
                    "Platt fit failed: singular Hessian (the margin perfectly "
                    "separates defaults from non-defaults, or is degenerate)."
                ) from exc
            # Step halving keeps Newton monotone in the likelihood.
            t = 1.0
            for _ in range(60):
                cand = theta - t * step
                new_loss = _neg_log_likelihood(cand[0] * m + cand[1], y, w)
                if new_loss <= loss:
                    break
                t *= 0.5
            else:
                cand, new_loss = theta, loss
            moved = float(np.max(np.abs(cand - theta)))
            theta, loss = cand, new_loss
            if moved < self.tol:
                return float(theta[0]), float(theta[1]), it
        raise ValueError(
            f"Platt fit did not converge in max_iter={self.max_iter} Newton iterations "
            f"(slope reached {theta[0]:.4g}); the margin probably separates the classes "
            "perfectly, where the maximum-likelihood slope is infinite."
        )

    # -------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "slope_"):
            raise NotFittedError(
                "This PlattCalibrator instance is not fitted yet. Call 'fit' or 'from_dict' first."
            )

    def predict_logit(self, margin: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Calibrated log-odds of default, ``slope_ * margin + intercept_``.

        This is what the score is computed from
        (:meth:`models.scale.ScoreScale.score_from_logit`), so that score
        points stay additive in the TreeSHAP contributions.

        Parameters
        ----------
        margin : float or array-like
            LightGBM raw margin.

        Returns
        -------
        logit : ndarray (or numpy scalar for scalar input)
        """
        self._check_fitted()
        m = np.asarray(margin, dtype=np.float64)
        if np.isnan(m).any():
            raise ValueError("margin must not contain NaN.")
        return self.slope_ * m + self.intercept_

    def predict_pd(self, margin: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Calibrated probability of default.

        Parameters
        ----------
        margin : float or array-like
            LightGBM raw margin.

        Returns
        -------
        pd : ndarray (or numpy scalar for scalar input), values in [0, 1]
        """
        return _sigmoid(self.predict_logit(margin))

    # ---------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-able parameters, stored with the model.

        Returns
        -------
        dict
            ``kind``, ``format``, constructor ``params`` and the fitted
            ``slope``, ``intercept``, ``n_samples``, ``n_iter``. Floats are
            plain Python floats, so ``json`` round-trips them exactly.
        """
        self._check_fitted()
        return {
            "kind": _KIND,
            "format": _FORMAT,
            "params": {"max_iter": int(self.max_iter), "tol": float(self.tol)},
            "slope": float(self.slope_),
            "intercept": float(self.intercept_),
            "n_samples": int(self.n_samples_),
            "n_iter": int(self.n_iter_),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Rebuild a fitted calibrator from :meth:`to_dict` output.

        The slope is re-checked, so a hand-edited or corrupted record cannot
        silently reverse the ranking.
        """
        if data.get("kind") != _KIND:
            raise ValueError(f"expected kind {_KIND!r}; got {data.get('kind')!r}.")
        if data.get("format") != _FORMAT:
            raise ValueError(f"unsupported format {data.get('format')!r}; expected {_FORMAT}.")
        obj = cls(**data["params"])
        _check_parameters(obj.max_iter, obj.tol)
        slope = float(data["slope"])
        intercept = float(data["intercept"])
        _check_slope(slope)
        if not np.isfinite(intercept):
            raise ValueError(f"intercept must be finite; got {intercept!r}.")
        obj.slope_ = slope
        obj.intercept_ = intercept
        obj.n_samples_ = int(data["n_samples"])
        obj.n_iter_ = int(data["n_iter"])
        return obj
