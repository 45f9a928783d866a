"""The training population's histograms, stored with the model so drift is measured against it.

``techrisk monitor`` compares what the service scored with what the model was trained on. It
cannot reread the training table (a Bento or another bank's deployment does not have it), so
the model carries, per feature and for the score, the bin edges fitted on the training rows
and the training counts per bin — overall and per product. Counts, not a row sample: a
histogram is a few kilobytes, holds no firm's data, and is exactly what PSI needs.

Bins are deciles of the training values (ties merged), or the values themselves when a
feature takes few of them (an industry code, a tax rating); the last bin of every histogram
counts missing values, so a collapse of coverage shows up in the PSI too. Values outside the
training range fall into the open-ended first or last bin; unseen categories into an
``other`` bin.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: The segment holding every training row, whatever its product.
ALL = "all"
#: The histogram name of the score (beside the feature names).
SCORE = "score"
#: A feature with at most this many distinct values is binned by value.
MAX_CATEGORIES = 12
#: Proportions are floored here before the log, so an empty bin gives a finite PSI.
PSI_FLOOR = 1e-4


@dataclass(frozen=True)
class Bins:
    """How one variable is cut: numeric ``edges`` or categorical ``values`` (never both).

    Bin indices: numeric ``0 … len(edges)`` (``(-inf, e0], (e0, e1], …, (e_k, inf)``);
    categorical ``0 … len(values) - 1`` per value, then one ``other``; and always a last
    index for missing.
    """

    edges: tuple[float, ...] = ()
    values: tuple[float, ...] = ()

    @property
    def size(self) -> int:
        """Number of bins, the missing bin included."""
        return (len(self.values) + 1 if self.values else len(self.edges) + 1) + 1

    def labels(self) -> list[str]:
        """A short label per bin, for plots and the JSON report."""
        if self.values:
            body = [f"{v:g}" for v in self.values] + ["other"]
        else:
            e = [f"{v:.4g}" for v in self.edges]
            body = [f"≤{e[0]}" if e else "all"]
            body += [f"({a}, {b}]" for a, b in itertools.pairwise(e)]
            body += [f">{e[-1]}"] if e else []
        return [*body, "missing"]

    def assign(self, x: np.ndarray) -> np.ndarray:
        """The bin index of each value."""
        x = np.asarray(x, dtype=np.float64)
        missing = np.isnan(x)
        if self.values:
            known = np.asarray(self.values)
            pos = np.searchsorted(known, x)
            hit = (pos < len(known)) & (known[np.minimum(pos, len(known) - 1)] == x)
            out = np.where(hit, pos, len(known))
        else:
            out = np.searchsorted(np.asarray(self.edges), x, side="left")
        return np.where(missing, self.size - 1, out)

    def counts(self, x: np.ndarray) -> np.ndarray:
        return np.bincount(self.assign(x), minlength=self.size)

    @classmethod
    def fit(cls, x: np.ndarray, n_bins: int = 10) -> Bins:
        known = x[~np.isnan(x)]
        distinct = np.unique(known)
        if len(distinct) <= MAX_CATEGORIES:
            return cls(values=tuple(float(v) for v in distinct))
        inner = np.quantile(known, np.linspace(0, 1, n_bins + 1)[1:-1])
        return cls(edges=tuple(float(v) for v in np.unique(inner)))

    def to_dict(self) -> dict[str, list[float]]:
        return {"edges": list(self.edges), "values": list(self.values)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[float]]) -> Bins:
        return cls(edges=tuple(data["edges"]), values=tuple(data["values"]))


def psi(expected: np.ndarray, actual: np.ndarray, floor: float = PSI_FLOOR) -> float:
    """Population stability index of two histograms over the same bins.

    ``sum_b (a_b − e_b) · ln(a_b / e_b)`` on proportions floored at ``floor``; an empty
    ``actual`` has no distribution to compare and gives NaN.
    """
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.shape != a.shape:
        raise ValueError(f"histograms must have the same bins; got {e.shape} and {a.shape}")
    if a.sum() == 0 or e.sum() == 0:
        return float("nan")
    e = np.maximum(e / e.sum(), floor)
    a = np.maximum(a / a.sum(), floor)
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass
class DriftReference:
    """Training histograms of every feature and of the score, overall and per product."""

    features: list[str]
    bins: dict[str, Bins]
    #: segment (``all`` or a product) → variable → counts per bin.
    counts: dict[str, dict[str, list[int]]] = field(default_factory=dict)

    @property
    def segments(self) -> list[str]:
        return list(self.counts)

    def expected(self, segment: str, name: str) -> np.ndarray:
        """Training counts of ``name`` in ``segment`` (``all`` when the product is unknown)."""
        return np.asarray(self.counts.get(segment, self.counts[ALL])[name])

    def histograms(self, X: np.ndarray, score: np.ndarray) -> dict[str, np.ndarray]:
        """Counts of ``X``'s columns (in ``features`` order) and of ``score`` on these bins."""
        out = {f: self.bins[f].counts(X[:, i]) for i, f in enumerate(self.features)}
        out[SCORE] = self.bins[SCORE].counts(score)
        return out

    @classmethod
    def fit(
        cls,
        X: np.ndarray,
        features: Sequence[str],
        score: np.ndarray,
        products: np.ndarray | None = None,
        n_bins: int = 10,
    ) -> DriftReference:
        """Bins from every training row; counts for all of them and for each product."""
        if X.shape != (len(score), len(features)):
            raise ValueError(
                f"X must be (rows, features) = ({len(score)}, {len(features)}); got {X.shape}"
            )
        bins = {f: Bins.fit(X[:, i], n_bins) for i, f in enumerate(features)}
        bins[SCORE] = Bins(edges=Bins.fit(score, n_bins).edges or (float(np.median(score)),))
        ref = cls(features=list(features), bins=bins)
        segments: dict[str, np.ndarray] = {ALL: np.ones(len(score), dtype=bool)}
        if products is not None:
            products = np.asarray(products).astype(str)
            segments.update({str(p): products == p for p in np.unique(products)})
        for name, rows in segments.items():
            ref.counts[name] = {
                k: v.tolist() for k, v in ref.histograms(X[rows], score[rows]).items()
            }
        return ref

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": self.features,
            "bins": {k: b.to_dict() for k, b in self.bins.items()},
            "counts": self.counts,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReference:
        return cls(
            features=list(data["features"]),
            bins={k: Bins.from_dict(b) for k, b in data["bins"].items()},
            counts={s: {k: list(v) for k, v in c.items()} for s, c in data["counts"].items()},
        )
