"""Percentile of a firm's PD within its peer cohort.

Users of commercial scores expect, besides PD, score and grade, a relative
figure: "safer than 72 % of software firms of its size and age". The cohort is
industry × size band × age band; the reference population is the training
population, summarised per cohort by a quantile sketch and stored with the
model, so serving needs neither the training data nor pandas.

Small cohorts are unreliable, so a firm whose cohort has fewer than
``min_size`` members falls back, level by level, to
industry × size band → industry → everyone, and the answer says which level
was used.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any, NamedTuple, Self

import numpy as np
import numpy.typing as npt
import pandas
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

__all__ = [
    "AGE_BANDS",
    "KEY_COLUMNS",
    "LEVEL_NAMES",
    "SIZE_BANDS",
    "PeerCohorts",
    "PeerPercentile",
    "age_band",
    "size_band",
]

_KIND = "PeerCohorts"
_FORMAT = 1

#: Columns that define a cohort, finest first.
KEY_COLUMNS: tuple[str, str, str] = ("industry", "size_band", "age_band")
#: Fallback levels, finest first; a level uses the first ``len(KEY_COLUMNS) - i`` keys.
LEVEL_NAMES: tuple[str, ...] = (
    "industry+size_band+age_band",
    "industry+size_band",
    "industry",
    "all",
)
#: Labels produced by :func:`size_band` and :func:`age_band`.
SIZE_BANDS: tuple[str, ...] = ("micro", "small", "medium", "large", "unknown")
AGE_BANDS: tuple[str, ...] = ("<2", "2-5", "5-10", ">=10", "unknown")

_MISSING = "unknown"
_CHUNK = 32_768  # rows per gather in percentile(): bounds memory at ~26 MB


# ----------------------------------------------------------------------------
# Bands
# ----------------------------------------------------------------------------
def size_band(revenue_wan: npt.ArrayLike, employees: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """Enterprise size band, simplified from the Chinese SME standard.

    The 2011 MIIT standard (工信部联企业〔2011〕300号) classifies software and
    information-technology services by employees *or* revenue; this is a
    simplification for tech SMEs, applied smallest band first:

    * ``micro``:  employees < 20  or revenue < 300 万元
    * ``small``:  employees < 100 or revenue < 2 000 万元
    * ``medium``: employees < 300 or revenue < 40 000 万元
    * ``large``:  otherwise
    * ``unknown``: both missing

    A missing measure (NaN) is ignored and the band is decided on the other,
    so thin-file firms that report only staffing (or only revenue) still get
    a peer cohort; only a firm missing both is ``unknown``.

    Parameters
    ----------
    revenue_wan : float or array-like
        Annual revenue in 万元 (CNY 10k).
    employees : float or array-like
        Head count.

    Returns
    -------
    band : ndarray of str, broadcast shape of the inputs
    """
    r = np.asarray(revenue_wan, dtype=np.float64)
    e = np.asarray(employees, dtype=np.float64)
    # Comparisons with NaN are False, which is exactly "ignore the missing one".
    with np.errstate(invalid="ignore"):
        micro = (e < 20) | (r < 300)
        small = (e < 100) | (r < 2_000)
        medium = (e < 300) | (r < 40_000)
    unknown = np.isnan(r) & np.isnan(e)
    return np.select(
        [unknown, micro, small, medium],
        ["unknown", "micro", "small", "medium"],
        default="large",
    )


def age_band(age_years: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """Firm age band: ``<2``, ``2-5``, ``5-10``, ``>=10`` years, or ``unknown``.

    Bands are left-closed (2.0 years is ``2-5``). The first two years are
    the start-up phase with the highest hazard; 5 and 10 years are the usual
    breaks in tech-SME default studies and the 高企 / 科技型中小企业 rules.

    Parameters
    ----------
    age_years : float or array-like
        Years from founding to the as-of date; NaN for unknown.

    Returns
    -------
    band : ndarray of str

    Raises
    ------
    ValueError
        If an age is negative (an as-of date before founding is a
        point-in-time bug upstream, not a band).
    """
    a = np.asarray(age_years, dtype=np.float64)
    if np.any(a < 0):
        raise ValueError(f"age_years must be >= 0; got {a[a < 0].ravel()[0]}.")
    return np.select(
        [np.isnan(a), a < 2, a < 5, a < 10],
        ["unknown", "<2", "2-5", "5-10"],
        default=">=10",
    )


# ----------------------------------------------------------------------------
# Cohorts
# ----------------------------------------------------------------------------
def _norm(value: Any) -> str:
    """One key value as a string; every flavour of missing becomes 'unknown'."""
    if value is None:
        return _MISSING
    if isinstance(value, float) and math.isnan(value):
        return _MISSING
    if type(value).__name__ in ("NAType", "NaTType"):
        return _MISSING
    s = str(value)
    return s if s else _MISSING


def _key_columns(keys: Any) -> tuple[list[str], list[str], list[str]]:
    """Normalised key columns from a DataFrame, a mapping or an (n, 3) array."""
    if hasattr(keys, "columns") or isinstance(keys, Mapping):
        missing = [c for c in KEY_COLUMNS if c not in keys]
        if missing:
            raise ValueError(f"keys is missing the column(s) {missing}; needs {KEY_COLUMNS}.")
        cols = []
        for c in KEY_COLUMNS:
            col = keys[c]
            if hasattr(col, "to_numpy"):
                col = col.to_numpy(dtype=object)
            cols.append(np.atleast_1d(np.asarray(col, dtype=object)).ravel())
    else:
        arr = np.asarray(keys, dtype=object)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != len(KEY_COLUMNS):
            raise ValueError(
                f"keys as an array must have shape (n, {len(KEY_COLUMNS)}) in the order "
                f"{KEY_COLUMNS}; got shape {arr.shape}."
            )
        cols = [arr[:, i] for i in range(len(KEY_COLUMNS))]
    n = cols[0].size
    if any(c.size != n for c in cols):
        raise ValueError(f"key columns differ in length: {[c.size for c in cols]}.")
    ind, size, age = ([_norm(v) for v in c] for c in cols)
    return ind, size, age


def _check_pd(pd_: npt.ArrayLike) -> npt.NDArray[np.float64]:
    p = np.atleast_1d(np.asarray(pd_, dtype=np.float64)).ravel()
    if not (np.all(p >= 0.0) and np.all(p <= 1.0)):
        bad = p[~((p >= 0.0) & (p <= 1.0))][0]
        raise ValueError(f"pd must be in [0, 1]; got {bad}.")
    return p


class PeerPercentile(NamedTuple):
    """Result of :meth:`PeerCohorts.percentile`."""

    #: Percentage of peers with a higher PD than the firm, in [0, 100];
    #: "safer than X % of its peers", higher is better.
    percentile: npt.NDArray[np.float64]
    #: Cohort level used per row, one of :data:`LEVEL_NAMES`.
    level: npt.NDArray[np.str_]


class PeerCohorts(BaseEstimator):
    """Peer-cohort PD distributions, summarised by quantile sketches.

    Parameters
    ----------
    min_size : int, default=30
        Fewest members a cohort needs to be used; smaller cohorts fall back
        to the next coarser level. 30 keeps the sampling error of a
        percentile near the middle of the distribution under about ±9
        points (binomial s.e. ``sqrt(.25 / 30)``), which is as coarse as a
        figure shown to a customer should be.
    n_quantiles : int, default=101
        Points in each sketch: the 0th..100th percentiles. 101 floats per
        cohort keep the stored model small (a few hundred cohorts ≈ 25k
        floats) while the interpolated percentile is within one point of
        the exact one.

    Attributes
    ----------
    sketches_ : ndarray of shape (n_cohorts, n_quantiles)
        PD quantiles of each retained cohort, rows non-decreasing.
    cohort_sizes_ : ndarray of shape (n_cohorts,)
        Members of each retained cohort.
    cohort_keys_ : list of tuple
        ``(level_name, *key values)`` of each row of ``sketches_``.
    n_samples_ : int
        Size of the reference population.

    Notes
    -----
    The percentile interpolates the cohort's empirical CDF linearly between
    sketch points. With ``q`` the sketch and ``j`` the last index with
    ``q[j] <= pd``, the share of peers at or below the firm is
    ``F = (j + (pd - q[j]) / (q[j+1] - q[j])) / (n_quantiles - 1)``, and the
    result is ``100 * (1 - F)``. Peers tied with the firm count as not
    higher, so a firm at its cohort's most common PD is not flattered. A PD
    below the cohort minimum gives 100, above its maximum 0.
    """

    def __init__(self, min_size: int = 30, n_quantiles: int = 101) -> None:
        self.min_size = min_size
        self.n_quantiles = n_quantiles

    def _check_parameters(self) -> None:
        for name in ("min_size", "n_quantiles"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"{name} must be an integer; got {v!r}.")
        if self.min_size < 1:
            raise ValueError(f"min_size must be >= 1; got {self.min_size}.")
        if self.n_quantiles < 2:
            raise ValueError(f"n_quantiles must be >= 2; got {self.n_quantiles}.")

    def fit(self, keys: pandas.DataFrame, pd: npt.ArrayLike) -> Self:
        """Build the cohort sketches from the reference (training) population.

        Parameters
        ----------
        keys : DataFrame
            Columns ``industry``, ``size_band``, ``age_band`` (see
            :func:`size_band`, :func:`age_band`); missing values become
            ``'unknown'``, which is a cohort like any other.
        pd : array-like of shape (n_samples,)
            Calibrated PD of each firm (the model's own, so a firm is ranked
            against PDs on the same scale).

        Returns
        -------
        self : PeerCohorts
        """
        self._check_parameters()
        p = _check_pd(pd)
        ind, size, age = _key_columns(keys)
        if len(ind) != p.size:
            raise ValueError(f"keys and pd must have the same length; got {len(ind)} and {p.size}.")
        if p.size < self.min_size:
            raise ValueError(
                f"the reference population has {p.size} rows; need at least "
                f"min_size={self.min_size}."
            )
        # pandas only here, at fit time; percentile() is numpy and dicts.
        frame = pandas.DataFrame({"industry": ind, "size_band": size, "age_band": age})
        probs = np.linspace(0.0, 1.0, self.n_quantiles)
        keys_out: list[tuple[str, ...]] = []
        sketches: list[npt.NDArray[np.float64]] = []
        sizes: list[int] = []
        for level, name in enumerate(LEVEL_NAMES):
            cols = list(KEY_COLUMNS[: len(KEY_COLUMNS) - level])
            groups = frame.groupby(cols, sort=True).indices if cols else {(): np.arange(p.size)}
            for key, idx in groups.items():
                if len(idx) < self.min_size:
                    continue
                key_t = key if isinstance(key, tuple) else (key,)
                keys_out.append((name, *(str(k) for k in key_t)))
                sketches.append(np.quantile(p[idx], probs))
                sizes.append(len(idx))
        self._set_fitted(keys_out, np.vstack(sketches), np.asarray(sizes), int(p.size))
        return self

    def _set_fitted(
        self,
        keys: list[tuple[str, ...]],
        sketches: npt.NDArray[np.float64],
        sizes: npt.NDArray[np.int64],
        n_samples: int,
    ) -> None:
        self.cohort_keys_ = keys
        self.sketches_ = np.ascontiguousarray(sketches, dtype=np.float64)
        self.cohort_sizes_ = sizes.astype(np.int64)
        self.n_samples_ = n_samples
        self._index = {k: i for i, k in enumerate(keys)}
        self._all = self._index[(LEVEL_NAMES[-1],)]

    def _check_fitted(self) -> None:
        if not hasattr(self, "sketches_"):
            raise NotFittedError(
                "This PeerCohorts instance is not fitted yet. Call 'fit' or 'from_dict' first."
            )

    def _resolve(
        self, ind: list[str], size: list[str], age: list[str]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        index = self._index
        l0, l1, l2 = LEVEL_NAMES[:3]
        cache: dict[tuple[str, str, str], tuple[int, int]] = {}
        rows = np.empty(len(ind), dtype=np.intp)
        levels = np.empty(len(ind), dtype=np.intp)
        for r, key in enumerate(zip(ind, size, age, strict=True)):
            hit = cache.get(key)
            if hit is None:
                i, s, a = key
                for lvl, k in enumerate(((l0, i, s, a), (l1, i, s), (l2, i))):
                    c = index.get(k)
                    if c is not None:
                        hit = (c, lvl)
                        break
                else:
                    hit = (self._all, 3)
                cache[key] = hit
            rows[r], levels[r] = hit
        return rows, levels

    def percentile(self, keys: Any, pd: npt.ArrayLike) -> PeerPercentile:
        """Share of the firm's peers with a higher PD ("safer than X %").

        Parameters
        ----------
        keys : DataFrame, mapping of column -> value(s), or array of shape (n, 3)
            ``industry``, ``size_band``, ``age_band`` per firm. A mapping of
            scalars scores one firm without building a frame.
        pd : float or array-like of shape (n,)
            Calibrated PD.

        Returns
        -------
        PeerPercentile
            ``percentile`` (float array in [0, 100], higher is better) and
            ``level`` (the cohort level used, one of :data:`LEVEL_NAMES`).
        """
        self._check_fitted()
        p = _check_pd(pd)
        ind, size, age = _key_columns(keys)
        if len(ind) != p.size:
            raise ValueError(f"keys and pd must have the same length; got {len(ind)} and {p.size}.")
        rows, levels = self._resolve(ind, size, age)
        out = np.empty(p.size, dtype=np.float64)
        last = self.sketches_.shape[1] - 1
        for start in range(0, p.size, _CHUNK):
            sl = slice(start, start + _CHUNK)
            sk = self.sketches_[rows[sl]]
            x = p[sl]
            j = (sk <= x[:, None]).sum(axis=1) - 1
            jc = np.clip(j, 0, last - 1)
            r = np.arange(sk.shape[0])
            lo, hi = sk[r, jc], sk[r, jc + 1]
            with np.errstate(invalid="ignore", divide="ignore"):
                frac = np.where(hi > lo, (x - lo) / (hi - lo), 0.0)
            cdf = (jc + frac) / last
            cdf = np.where(j < 0, 0.0, np.where(j >= last, 1.0, cdf))
            out[sl] = 100.0 * (1.0 - cdf)
        return PeerPercentile(out, np.asarray(LEVEL_NAMES)[levels])

    # ---------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-able sketches, stored with the model.

        Returns
        -------
        dict
            ``kind``, ``format``, ``params``, ``n_samples`` and ``cohorts``:
            a list of ``{"level", "key", "n", "quantiles"}``.
        """
        self._check_fitted()
        return {
            "kind": _KIND,
            "format": _FORMAT,
            "params": {"min_size": int(self.min_size), "n_quantiles": int(self.n_quantiles)},
            "n_samples": int(self.n_samples_),
            "cohorts": [
                {"level": k[0], "key": list(k[1:]), "n": int(n), "quantiles": q.tolist()}
                for k, n, q in zip(
                    self.cohort_keys_, self.cohort_sizes_, self.sketches_, strict=True
                )
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a fitted instance from :meth:`to_dict` output."""
        if data.get("kind") != _KIND:
            raise ValueError(f"expected kind {_KIND!r}; got {data.get('kind')!r}.")
        if data.get("format") != _FORMAT:
            raise ValueError(f"unsupported format {data.get('format')!r}; expected {_FORMAT}.")
        obj = cls(**data["params"])
        obj._check_parameters()
        cohorts = data["cohorts"]
        keys = [(c["level"], *c["key"]) for c in cohorts]
        for k in keys:
            if k[0] not in LEVEL_NAMES:
                raise ValueError(f"unknown cohort level {k[0]!r}; expected one of {LEVEL_NAMES}.")
        if (LEVEL_NAMES[-1],) not in keys:
            raise ValueError("cohorts must include the 'all' level.")
        sketches = np.asarray([c["quantiles"] for c in cohorts], dtype=np.float64)
        if sketches.ndim != 2 or sketches.shape[1] != obj.n_quantiles:
            raise ValueError(
                f"every cohort needs n_quantiles={obj.n_quantiles} quantiles; got an array "
                f"of shape {sketches.shape}."
            )
        if np.any(np.diff(sketches, axis=1) < 0):
            raise ValueError("cohort quantiles must be non-decreasing.")
        sizes = np.asarray([c["n"] for c in cohorts], dtype=np.int64)
        obj._set_fitted(keys, sketches, sizes, int(data["n_samples"]))
        return obj
