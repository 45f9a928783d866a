"""PD → score → grade → decision.

Three small value objects, stored with the model as JSON so that a reloaded
model scores identically (a known bug class in scorecard libraries: the scale
lives in a notebook, the model in a registry, and they drift apart).

* :class:`ScoreScale` — points to double the odds (PDO). Odds are good:bad,
  so a higher score is safer. Working from the calibrated logit makes the score
  affine in the LightGBM margin, so TreeSHAP contributions convert exactly
  into score points that add up to the score.
* :class:`MasterScale` — ten grades by PD upper bound, grade 1 best.
* :class:`DecisionPolicy` — approve / review / decline cut-offs on PD, per
  product (``tdld`` 投贷联动, ``xyd`` 信易贷).

Unlike the fitted estimators (:class:`models.calibration.PlattCalibrator`,
:class:`models.cohorts.PeerCohorts`) these learn nothing from data, so there
is no ``fit`` at which to defer checks: they validate their arguments when
constructed (a scale with ``pdo=-3`` should never exist, let alone reach a
request) and refuse attribute assignment afterwards: build a new one.

All methods are numpy-only and accept scalars or arrays; a one-row call costs
microseconds. Nothing is rounded here: rounding is for display.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Self

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_CUTOFFS",
    "DEFAULT_PD_UPPER_BOUNDS",
    "DecisionPolicy",
    "MasterScale",
    "ScoreScale",
]

_FORMAT = 1


def _check_real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}.")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}.")
    return value


def _check_kind(data: Mapping[str, Any], kind: str) -> None:
    if data.get("kind") != kind:
        raise ValueError(f"expected kind {kind!r}; got {data.get('kind')!r}.")
    if data.get("format") != _FORMAT:
        raise ValueError(f"unsupported format {data.get('format')!r}; expected {_FORMAT}.")


def _as_pd(pd: npt.ArrayLike) -> npt.NDArray[np.float64]:
    p = np.asarray(pd, dtype=np.float64)
    # One pass catches NaN too (NaN fails both comparisons).
    if not (np.all(p >= 0.0) and np.all(p <= 1.0)):
        bad = p[~((p >= 0.0) & (p <= 1.0))].ravel()[0]
        raise ValueError(f"pd must be in [0, 1]; got {bad}.")
    return p


class _Frozen:
    """Refuses attribute assignment after ``__init__``.

    Derived values (factor, offset, lookup arrays) are computed once from the
    arguments; letting ``scale.pdo = 20`` through would leave them stale,
    which is the very scale/model drift these objects exist to prevent.
    """

    _frozen = False

    def __setattr__(self, name: str, value: Any) -> None:
        if self._frozen:
            raise AttributeError(
                f"{type(self).__name__} is immutable; build a new one instead of setting {name!r}."
            )
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable.")


# ----------------------------------------------------------------------------
# Score scale
# ----------------------------------------------------------------------------
class ScoreScale(_Frozen):
    """Points-to-double-the-odds score scale.

    ``score = offset + factor * ln(odds)`` with ``odds = (1 - pd) / pd``
    (good:bad), ``factor = pdo / ln 2`` and
    ``offset = base_score - factor * ln(base_odds)``. Equivalently, from the
    calibrated log-odds of default ``logit = ln(pd / (1 - pd))``,
    ``score = offset - factor * logit``.

    Parameters
    ----------
    base_score : float, default=600
        Score at ``base_odds``. 600 is the usual anchor, and with the other
        defaults puts the portfolio's typical firm (PD 1-3 %) near 560-640.
    base_odds : float, default=50
        Good:bad odds that score ``base_score``; 50:1 is PD = 1/51 ≈ 1.96 %,
        the middle of the tech-SME loan book.
    pdo : float, default=40
        Points to double the odds. 40 (rather than the common 20) spreads a
        low-default portfolio over a range loan officers can tell apart:
        PD 1 % ≈ 639, 2 % ≈ 599, 4 % ≈ 558, 8 % ≈ 515.
    pd_clip : float, default=1e-6
        PD is clipped to ``[pd_clip, 1 - pd_clip]`` before scoring, so the
        score is finite and bounded (≈ -423 to 1172 with the defaults).

    Notes
    -----
    TreeSHAP contributions ``c_j`` of the LightGBM margin and a Platt map
    ``logit = a * margin + b`` give
    ``score = base_points + sum_j points_j`` exactly, with
    ``points_j = -factor * a * c_j`` (:meth:`points`) and
    ``base_points = offset - factor * (a * expected_margin + b)``
    (:meth:`base_points`), as long as the logit lies inside the clip
    (|logit| < 13.8, i.e. PD in (1e-6, 1 - 1e-6)); beyond it the score
    saturates and the points are no longer additive.
    """

    def __init__(
        self,
        base_score: float = 600.0,
        base_odds: float = 50.0,
        pdo: float = 40.0,
        pd_clip: float = 1e-6,
    ) -> None:
        self.base_score = _check_real("base_score", base_score)
        self.base_odds = _check_real("base_odds", base_odds)
        self.pdo = _check_real("pdo", pdo)
        self.pd_clip = _check_real("pd_clip", pd_clip)
        if self.base_odds <= 0:
            raise ValueError(f"base_odds must be > 0; got {base_odds}.")
        if self.pdo <= 0:
            raise ValueError(
                f"pdo must be > 0; got {pdo}. A negative pdo would make riskier firms score higher."
            )
        if not 0 < self.pd_clip < 0.5:
            raise ValueError(f"pd_clip must be in (0, 0.5); got {pd_clip}.")
        # Derived once; plain floats keep per-request arithmetic cheap.
        self._factor = self.pdo / math.log(2.0)
        self._offset = self.base_score - self._factor * math.log(self.base_odds)
        self._logit_max = math.log1p(-self.pd_clip) - math.log(self.pd_clip)
        self._frozen = True

    @property
    def factor(self) -> float:
        """Points per unit of log-odds, ``pdo / ln 2``."""
        return self._factor

    @property
    def offset(self) -> float:
        """Score at even odds (PD = 0.5), ``base_score - factor * ln(base_odds)``."""
        return self._offset

    @property
    def score_range(self) -> tuple[float, float]:
        """(lowest, highest) attainable score, set by ``pd_clip``."""
        return (
            self._offset - self._factor * self._logit_max,
            self._offset + self._factor * self._logit_max,
        )

    def score(self, pd: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Score from PD.

        Parameters
        ----------
        pd : float or array-like, values in [0, 1]

        Returns
        -------
        score : ndarray (numpy scalar for scalar input), unrounded
        """
        p = _as_pd(pd)
        # Clip in logit space (PD 0 and 1 give -inf and +inf first), so
        # score(pd) and score_from_logit(logit(pd)) saturate at the same value.
        with np.errstate(divide="ignore"):
            logit = np.log(p) - np.log1p(-p)
        logit = np.clip(logit, -self._logit_max, self._logit_max)
        return self._offset - self._factor * logit

    def score_from_logit(self, logit: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Score from the calibrated log-odds of default.

        Prefer this to :meth:`score` in serving: it skips the
        logit → PD → logit round trip and is exactly affine in the margin.
        The logit is clipped to the same range as :meth:`score` clips PD, so
        ``score_from_logit(logit(pd)) == score(pd)`` up to float rounding.

        Parameters
        ----------
        logit : float or array-like
            ``ln(pd / (1 - pd))``, e.g. :meth:`PlattCalibrator.predict_logit`.
        """
        z = np.asarray(logit, dtype=np.float64)
        if np.isnan(z).any():
            raise ValueError("logit must not contain NaN.")
        z = np.clip(z, -self._logit_max, self._logit_max)
        return self._offset - self._factor * z

    def logit_from_score(self, score: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Inverse of :meth:`score_from_logit`: ``(offset - score) / factor``."""
        s = np.asarray(score, dtype=np.float64)
        if np.isnan(s).any():
            raise ValueError("score must not contain NaN.")
        return (self._offset - s) / self._factor

    def pd_from_score(self, score: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Inverse of :meth:`score`: the PD a score stands for.

        Used to turn score cut-offs on a report back into PD, and for the
        master-scale table. Exact (up to float rounding) inside the clip.
        """
        z = self.logit_from_score(score)
        return np.exp(-np.logaddexp(0.0, -z))

    def points(self, contributions: npt.ArrayLike, slope_a: float) -> npt.NDArray[np.float64]:
        """Score points of each feature contribution.

        Parameters
        ----------
        contributions : array-like
            TreeSHAP contributions to the LightGBM margin (log-odds), any
            shape, e.g. ``(n_rows, n_features)`` without the bias column.
        slope_a : float
            Platt slope ``a`` (``PlattCalibrator.slope_``), > 0.

        Returns
        -------
        points : ndarray, same shape; ``-factor * a * contribution``. A
            contribution that raises the risk costs points (negative).
        """
        if not slope_a > 0:
            raise ValueError(f"slope_a must be > 0; got {slope_a}.")
        return (-self._factor * slope_a) * np.asarray(contributions, dtype=np.float64)

    def base_points(
        self, expected_margin: npt.ArrayLike, slope_a: float, intercept_b: float
    ) -> npt.NDArray[np.float64]:
        """Score of the reference firm, the starting point the points add to.

        ``offset - factor * (a * expected_margin + b)`` where
        ``expected_margin`` is the TreeSHAP expected value (LightGBM's bias
        column of ``pred_contrib``). Then
        ``base_points + points(contribs, a).sum(-1) == score_from_logit(logit)``.
        """
        if not slope_a > 0:
            raise ValueError(f"slope_a must be > 0; got {slope_a}.")
        e = np.asarray(expected_margin, dtype=np.float64)
        return self._offset - self._factor * (slope_a * e + intercept_b)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able parameters (plain floats; ``json`` round-trips them exactly)."""
        return {
            "kind": "ScoreScale",
            "format": _FORMAT,
            "base_score": self.base_score,
            "base_odds": self.base_odds,
            "pdo": self.pdo,
            "pd_clip": self.pd_clip,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild from :meth:`to_dict` output (re-validated)."""
        _check_kind(data, "ScoreScale")
        return cls(
            base_score=data["base_score"],
            base_odds=data["base_odds"],
            pdo=data["pdo"],
            pd_clip=data["pd_clip"],
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScoreScale):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ScoreScale(base_score={self.base_score!r}, base_odds={self.base_odds!r}, "
            f"pdo={self.pdo!r}, pd_clip={self.pd_clip!r})"
        )


# ----------------------------------------------------------------------------
# Master scale
# ----------------------------------------------------------------------------
#: PD upper bounds of grades 1..10 (grade g covers ``(bound[g-2], bound[g-1]]``).
#: Finer where most of a tech-SME book sits (0.5–8 %), wide enough at the good end that
#: grade 1 holds enough firms for its default rate to be measurable (a 0.25 % grade held
#: ~150 of 15,000 OOT loans and its observed rate was noise), and chosen so that every
#: cut-off of the default :class:`DecisionPolicy` (3 %, 4 %, 8 %, 12 %) is a grade boundary:
#: a grade then maps to a single decision per product.
#: With the default :class:`ScoreScale`: 0.5 % ≈ 680, 1 % ≈ 639, 2 % ≈ 599,
#: 4 % ≈ 558, 8 % ≈ 515, 12 % ≈ 489.
DEFAULT_PD_UPPER_BOUNDS: tuple[float, ...] = (
    0.005,
    0.01,
    0.015,
    0.02,
    0.03,
    0.04,
    0.06,
    0.08,
    0.12,
    1.0,
)


class MasterScale(_Frozen):
    """Grades by PD upper bound; grade 1 is the best.

    Parameters
    ----------
    pd_upper_bounds : sequence of float, default=DEFAULT_PD_UPPER_BOUNDS
        Strictly increasing, in (0, 1], last exactly 1.0 so that every PD
        gets a grade. Grade ``g`` (1-based) covers
        ``(pd_upper_bounds[g-2], pd_upper_bounds[g-1]]`` (upper bound
        inclusive, matching :class:`DecisionPolicy`'s ``pd <= approve_max``).
        Defaults: 0.5 %, 1 %, 1.5 %, 2 %, 3 %, 4 %, 6 %, 8 %, 12 %, 100 %.
    """

    def __init__(self, pd_upper_bounds: tuple[float, ...] = DEFAULT_PD_UPPER_BOUNDS) -> None:
        bounds = tuple(
            _check_real(f"pd_upper_bounds[{i}]", b) for i, b in enumerate(pd_upper_bounds)
        )
        if len(bounds) < 2:
            raise ValueError(f"pd_upper_bounds needs at least 2 grades; got {len(bounds)}.")
        for i, b in enumerate(bounds):
            if not 0 < b <= 1:
                raise ValueError(f"pd_upper_bounds[{i}] must be in (0, 1]; got {b}.")
        for i in range(1, len(bounds)):
            if bounds[i] <= bounds[i - 1]:
                raise ValueError(
                    "pd_upper_bounds must be strictly increasing; got "
                    f"{bounds[i - 1]} then {bounds[i]} at position {i}."
                )
        if bounds[-1] != 1.0:
            raise ValueError(
                f"the last of pd_upper_bounds must be 1.0 so every PD gets a grade; "
                f"got {bounds[-1]}."
            )
        self.pd_upper_bounds = bounds
        self._bounds = np.asarray(bounds, dtype=np.float64)
        self._bounds.flags.writeable = False
        self._frozen = True

    @property
    def n_grades(self) -> int:
        """Number of grades."""
        return len(self.pd_upper_bounds)

    def grade(self, pd: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Grade (1 = best) of each PD.

        Parameters
        ----------
        pd : float or array-like, values in [0, 1]

        Returns
        -------
        grade : int64 ndarray (numpy scalar for scalar input)
        """
        p = _as_pd(pd)
        # side="left": index i with bounds[i-1] < pd <= bounds[i].
        return np.searchsorted(self._bounds, p, side="left").astype(np.int64) + 1

    def table(self, score_scale: ScoreScale) -> list[dict[str, float | int]]:
        """The master scale as rows, for model cards and metadata.

        Parameters
        ----------
        score_scale : ScoreScale
            Converts each grade's PD range to a score range.

        Returns
        -------
        rows : list of dict
            ``grade, pd_low, pd_high, score_high, score_low``. ``score_high``
            is the score at ``pd_low`` and ``score_low`` at ``pd_high``; grade
            1 and the last grade run to the ends of the clipped score range.
            Unrounded; ``pandas.DataFrame(rows)`` for display.
        """
        lows = (0.0, *self.pd_upper_bounds[:-1])
        rows: list[dict[str, float | int]] = []
        for g, (lo, hi) in enumerate(zip(lows, self.pd_upper_bounds, strict=True), start=1):
            rows.append(
                {
                    "grade": g,
                    "pd_low": lo,
                    "pd_high": hi,
                    "score_high": float(score_scale.score(lo)),
                    "score_low": float(score_scale.score(hi)),
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-able parameters."""
        return {
            "kind": "MasterScale",
            "format": _FORMAT,
            "pd_upper_bounds": list(self.pd_upper_bounds),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild from :meth:`to_dict` output (re-validated)."""
        _check_kind(data, "MasterScale")
        return cls(pd_upper_bounds=tuple(data["pd_upper_bounds"]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MasterScale):
            return NotImplemented
        return self.pd_upper_bounds == other.pd_upper_bounds

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MasterScale(pd_upper_bounds={self.pd_upper_bounds!r})"


# ----------------------------------------------------------------------------
# Decision policy
# ----------------------------------------------------------------------------
#: Default PD cut-offs per product: approve if ``pd <= approve_max``, decline
#: if ``pd > decline_min``, review in between.
#:
#: * ``tdld`` 投贷联动 (investment-loan linkage): the bank or its investment
#:   arm holds equity or options alongside the loan, so the upside of a risky
#:   young firm partly pays for its higher PD; it tolerates more risk:
#:   approve <= 4 % (grades 1-6), decline > 12 % (grades 9-10).
#: * ``xyd`` 信易贷 (credit-information loans): small, mostly unsecured loans
#:   priced near the policy rate with no upside, so the bands are tighter:
#:   approve <= 3 % (grades 1-5), decline > 8 % (grades 8-10).
#:
#: The review band in between goes to a loan officer. Each cut-off is a
#: boundary of the default :class:`MasterScale`.
DEFAULT_CUTOFFS: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "tdld": MappingProxyType({"approve_max": 0.04, "decline_min": 0.12}),
        "xyd": MappingProxyType({"approve_max": 0.03, "decline_min": 0.08}),
    }
)

_DECISIONS = np.array(["approve", "review", "decline"])
_DECISIONS.flags.writeable = False


class DecisionPolicy(_Frozen):
    """Approve / review / decline cut-offs on PD, per product.

    Parameters
    ----------
    cutoffs : mapping, default=DEFAULT_CUTOFFS
        ``{product: {"approve_max": float, "decline_min": float}}``, both in
        (0, 1) with ``approve_max < decline_min``. Approve if
        ``pd <= approve_max``; decline if ``pd > decline_min``; else review.
        Defaults: ``tdld`` 4 % / 12 %, ``xyd`` 3 % / 8 % (see
        :data:`DEFAULT_CUTOFFS` for why).
    """

    def __init__(self, cutoffs: Mapping[str, Mapping[str, float]] | None = None) -> None:
        if cutoffs is None:
            cutoffs = DEFAULT_CUTOFFS
        if not isinstance(cutoffs, Mapping) or not cutoffs:
            raise TypeError(f"cutoffs must be a non-empty mapping; got {cutoffs!r}.")
        checked: dict[str, dict[str, float]] = {}
        for product, cut in cutoffs.items():
            if not isinstance(product, str) or not product:
                raise TypeError(f"product names must be non-empty strings; got {product!r}.")
            if not isinstance(cut, Mapping) or set(cut) != {"approve_max", "decline_min"}:
                raise ValueError(
                    f"cutoffs[{product!r}] must have exactly the keys 'approve_max' and "
                    f"'decline_min'; got {cut!r}."
                )
            lo = _check_real(f"cutoffs[{product!r}]['approve_max']", cut["approve_max"])
            hi = _check_real(f"cutoffs[{product!r}]['decline_min']", cut["decline_min"])
            for name, v in (("approve_max", lo), ("decline_min", hi)):
                if not 0 < v < 1:
                    raise ValueError(
                        f"cutoffs[{product!r}]['{name}'] is a probability and must be in "
                        f"(0, 1); got {v}."
                    )
            if not lo < hi:
                raise ValueError(
                    f"cutoffs[{product!r}]: approve_max must be < decline_min; got "
                    f"approve_max={lo}, decline_min={hi}."
                )
            checked[product] = {"approve_max": lo, "decline_min": hi}
        self.cutoffs: Mapping[str, Mapping[str, float]] = MappingProxyType(
            {p: MappingProxyType(c) for p, c in checked.items()}
        )
        self._products = np.array(sorted(checked))
        self._approve = np.array([checked[p]["approve_max"] for p in self._products])
        self._decline = np.array([checked[p]["decline_min"] for p in self._products])
        self._frozen = True

    @property
    def products(self) -> tuple[str, ...]:
        """Known products, sorted."""
        return tuple(str(p) for p in self._products)

    def _unknown(self, product: object) -> ValueError:
        return ValueError(
            f"unknown product {product!r}; known products: {', '.join(self.products)}."
        )

    def decide(self, pd: npt.ArrayLike, product: str | npt.ArrayLike) -> npt.NDArray[np.str_]:
        """Decision for each PD.

        Parameters
        ----------
        pd : float or array-like, values in [0, 1]
        product : str or array-like of str
            One product for all rows, or one per row (a mixed batch).

        Returns
        -------
        decision : ndarray of str, ``'approve'``, ``'review'`` or ``'decline'``,
            shaped like ``pd`` (broadcast with ``product``).

        Raises
        ------
        ValueError
            If a product is unknown (naming it) or a PD is outside [0, 1].
        """
        p = _as_pd(pd)
        if isinstance(product, str):
            cut = self.cutoffs.get(product)
            if cut is None:
                raise self._unknown(product)
            approve_max, decline_min = cut["approve_max"], cut["decline_min"]
        else:
            prod = np.asarray(product).astype(str)
            idx = np.searchsorted(self._products, prod)
            idx_c = np.minimum(idx, self._products.size - 1)
            known = self._products[idx_c] == prod
            if not np.all(known):
                raise self._unknown(prod[~known].ravel()[0].item())
            approve_max, decline_min = self._approve[idx_c], self._decline[idx_c]
        code = (p > approve_max).astype(np.intp) + (p > decline_min)
        return _DECISIONS[code]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able parameters."""
        return {
            "kind": "DecisionPolicy",
            "format": _FORMAT,
            "cutoffs": {p: dict(c) for p, c in self.cutoffs.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild from :meth:`to_dict` output (re-validated)."""
        _check_kind(data, "DecisionPolicy")
        return cls(cutoffs=data["cutoffs"])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DecisionPolicy):
            return NotImplemented
        return self.cutoffs == other.cutoffs

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"DecisionPolicy(cutoffs={self.to_dict()['cutoffs']!r})"
