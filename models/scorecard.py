"""A WoE logistic scorecard as plain arrays: bin edges, WoE per bin, one coefficient each.

Training fits the scorecard with optbinning (``training/baselines.py``); what is served is
only the arrays it learnt, so ``models/`` needs no optbinning at serve time and a reloaded
scorecard cannot depend on a pickled estimator. Each feature's term ``coefficient · WoE(bin)``
is its contribution to the log-odds, so the scorecard explains itself additively, like
TreeSHAP does for the booster: ``contributions(X).sum(1) == logit(X)`` exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = ["WoEScorecard", "WoETerm"]

_KIND = "WoEScorecard"
_FORMAT = 1


@dataclass(frozen=True)
class WoETerm:
    """One selected feature: how a value finds its bin, and the bin's WoE.

    Numerical bins follow ``np.digitize(x, edges, right=False)`` (optbinning's rule: a value
    equal to an edge belongs to the bin on its right). Categorical bins list the category codes
    they hold; a code seen in no bin takes ``woe_unknown``. A missing value takes
    ``woe_missing`` (the "Missing" bin's own WoE: missing is information).
    """

    feature: str
    kind: Literal["numerical", "categorical"]
    coefficient: float
    woe: tuple[float, ...]
    woe_missing: float
    woe_unknown: float = 0.0
    edges: tuple[float, ...] = ()
    categories: tuple[tuple[float, ...], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("numerical", "categorical"):
            raise ValueError(
                f"term {self.feature!r}: kind must be numerical or categorical; got {self.kind!r}"
            )
        n_bins = len(self.edges) + 1 if self.kind == "numerical" else len(self.categories)
        if len(self.woe) != n_bins:
            raise ValueError(
                f"term {self.feature!r}: {n_bins} bins need {n_bins} WoE values; "
                f"got {len(self.woe)}"
            )
        if self.kind == "numerical" and any(np.diff(self.edges) <= 0):
            raise ValueError(f"term {self.feature!r}: bin edges must increase; got {self.edges}")
        values = (self.coefficient, self.woe_missing, self.woe_unknown, *self.woe, *self.edges)
        if not np.all(np.isfinite(values)):
            raise ValueError(f"term {self.feature!r}: coefficient, WoE and edges must be finite")

    @cached_property
    def _woe(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.woe, dtype=np.float64)

    @cached_property
    def _edges(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.edges, dtype=np.float64)

    def woe_of(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The WoE of each value of one column.

        The arrays are converted once per term and binned with ``searchsorted`` (what
        ``np.digitize(right=False)`` does on increasing edges, without its per-call checks):
        a live request scores one row through every term.
        """
        woe = self._woe
        missing = np.isnan(x)
        if self.kind == "numerical":
            out = woe[np.searchsorted(self._edges, np.where(missing, 0.0, x), side="right")]
        else:
            out = np.full(x.shape, self.woe_unknown, dtype=np.float64)
            for value, codes in zip(woe, self.categories, strict=True):
                out[np.isin(x, codes)] = value
        out[missing] = self.woe_missing
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "kind": self.kind,
            "coefficient": self.coefficient,
            "woe": list(self.woe),
            "woe_missing": self.woe_missing,
            "woe_unknown": self.woe_unknown,
            "edges": list(self.edges),
            "categories": [list(c) for c in self.categories],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WoETerm:
        return cls(
            feature=data["feature"],
            kind=data["kind"],
            coefficient=float(data["coefficient"]),
            woe=tuple(float(v) for v in data["woe"]),
            woe_missing=float(data["woe_missing"]),
            woe_unknown=float(data["woe_unknown"]),
            edges=tuple(float(v) for v in data["edges"]),
            categories=tuple(tuple(float(v) for v in c) for c in data["categories"]),
        )


class WoEScorecard:
    """``logit(pd) = intercept + Σ coefficient_j · WoE_j(x_j)`` over the selected features.

    ``features`` is the model's whole column order (the feature matrix it is given);
    features without a term contribute 0, so contributions line up with the booster's.
    """

    def __init__(self, features: Sequence[str], terms: Sequence[WoETerm], intercept: float):
        self.features = list(features)
        self.terms = list(terms)
        self.intercept = float(intercept)
        unknown = [t.feature for t in self.terms if t.feature not in self.features]
        if unknown:
            raise ValueError(f"scorecard terms name features the model lacks: {unknown}")
        if not np.isfinite(self.intercept):
            raise ValueError(f"scorecard intercept must be finite; got {self.intercept}")
        self._index = [self.features.index(t.feature) for t in self.terms]

    def contributions(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Per-feature log-odds terms, shape (n, n_features + 1); the last column is the
        intercept, so each row sums to :meth:`logit`."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.features):
            raise ValueError(
                f"X must have {len(self.features)} columns (the model's features); "
                f"got shape {X.shape}"
            )
        out = np.zeros((X.shape[0], len(self.features) + 1), dtype=np.float64)
        for j, term in zip(self._index, self.terms, strict=True):
            out[:, j] = term.coefficient * term.woe_of(X[:, j])
        out[:, -1] = self.intercept
        return out

    def logit(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return self.contributions(X).sum(axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": _KIND,
            "format": _FORMAT,
            "features": self.features,
            "intercept": self.intercept,
            "terms": [t.to_dict() for t in self.terms],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WoEScorecard:
        if data.get("kind") != _KIND or data.get("format") != _FORMAT:
            raise ValueError(
                f"expected a {_KIND} record of format {_FORMAT}; got "
                f"{data.get('kind')!r} format {data.get('format')!r}"
            )
        return cls(
            data["features"], [WoETerm.from_dict(t) for t in data["terms"]], data["intercept"]
        )
