"""The data report every training run starts with: what the table holds before a model sees it.

Real tables are dirty. Before fitting, the run records per feature its coverage in each slice,
its univariate AUC raw and binned (WoE), its information value on train, its weight in a quick
LightGBM (gain share, valid-AUC drop without it — see ``training.leak_checks``) and its drift
from train to out-of-time (PSI), plus each slice's size and default rate; and it turns what
looks wrong into human-readable warnings, each naming its test and number: likely leakage, the
loader's type findings, near-empty features, shifted distributions, a moved default rate.
The report goes to MLflow (``to_dict`` for ``mlflow.log_dict``, ``to_markdown`` for the
artifact and the model card).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from optbinning import BinningProcess

from training.baselines import binning_ivs, fit_binning
from training.leak_checks import binned_aucs, model_dominance
from training.metrics import auc

__all__ = [
    "MAX_DEFAULT_RATE_RATIO",
    "MAX_PSI",
    "MIN_COVERAGE",
    "SLICES",
    "DataReport",
    "build_data_report",
]

#: The slices of a time split, oldest first.
SLICES = ("train", "valid", "oot")
#: A feature known for fewer rows than this in any slice is nearly empty there.
MIN_COVERAGE = 0.05
#: PSI above this is a shifted distribution (the industry rule of thumb, as in ``metrics.psi``).
MAX_PSI = 0.25
#: OOT default rate more than this factor above or below train's: the PD needs recalibrating.
MAX_DEFAULT_RATE_RATIO = 1.5
#: Bins and share floor of the feature PSI: those of ``training.metrics.psi``.
PSI_BINS = 10
PSI_EPS = 1e-4

#: Leak-check thresholds by default (``TrainConfig`` carries the same names).
IV_SUSPICIOUS = 1.0
IV_CHECK = 0.5
MAX_GAIN_SHARE = 0.5
MAX_AUC_DROP = 0.05

_FEATURE_COLUMNS = (
    "coverage_train",
    "coverage_valid",
    "coverage_oot",
    "univariate_auc",
    "binned_auc",
    "iv",
    "gain_share",
    "valid_auc_drop",
    "psi_train_oot",
)


# ----------------------------------------------------------------------------
# The report
# ----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class DataReport:
    """What a training table holds, per feature and per slice, and what looks wrong.

    Built by :func:`build_data_report`.

    Attributes
    ----------
    features_ : pandas.DataFrame
        Indexed by feature, in the order given: ``coverage_train``, ``coverage_valid``,
        ``coverage_oot`` (share of finite values), ``univariate_auc`` (train,
        direction-free), ``iv`` (train) and ``psi_train_oot``.
    slices_ : pandas.DataFrame
        Indexed by slice (train, valid, oot): ``rows``, ``defaults``, ``default_rate``.
        Also ``binned_auc`` (AUC of the feature's WoE on train, direction-free),
        ``gain_share`` (its share of a quick LightGBM's gain) and ``valid_auc_drop`` (that
        model's valid AUC minus the AUC without the feature; top-gain features only).
    slices_ : pandas.DataFrame
        Indexed by slice (train, valid, oot): ``rows``, ``defaults``, ``default_rate``.
    leaky_ : list of str
        Features a leak test marks as suspicious: raw or binned AUC above
        ``max_univariate_auc``, IV above ``iv_suspicious``, or gain share above
        ``max_gain_share`` together with a valid-AUC drop above ``max_auc_drop``.
    warnings_ : list of str
        Human-readable findings, leakage first; each leak warning names its test and number.
    max_univariate_auc : float
        The leakage threshold the report was built with.
    thresholds : dict of str to float
        Every leak-check threshold the report was built with.
    """

    features_: pd.DataFrame
    slices_: pd.DataFrame
    leaky_: list[str]
    warnings_: list[str]
    max_univariate_auc: float
    thresholds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON types, for ``mlflow.log_dict``.

        NaN (e.g. the AUC of a feature with one class among its known rows) becomes ``None``,
        since NaN is not valid JSON.
        """
        return {
            "max_univariate_auc": self.max_univariate_auc,
            "thresholds": dict(self.thresholds),
            "slices": {
                name: {
                    "rows": int(row.rows),
                    "defaults": int(row.defaults),
                    "default_rate": _json_float(row.default_rate),
                }
                for name, row in self.slices_.iterrows()
            },
            "features": {
                str(name): {col: _json_float(row[col]) for col in _FEATURE_COLUMNS}
                for name, row in self.features_.iterrows()
            },
            "leaky": list(self.leaky_),
            "warnings": list(self.warnings_),
        }

    def to_markdown(self) -> str:
        """The report as Markdown: slices, warnings, then one row per feature."""
        slices = _markdown_table(
            ("slice", "rows", "defaults", "default rate"),
            [
                (name, f"{int(r.rows):,}", f"{int(r.defaults):,}", _pct(r.default_rate))
                for name, r in self.slices_.iterrows()
            ],
        )
        features = _markdown_table(
            (
                "feature",
                "coverage train",
                "coverage valid",
                "coverage OOT",
                "univariate AUC",
                "binned AUC",
                "IV",
                "gain share",
                "valid AUC drop",
                "PSI train→OOT",
            ),
            [
                (
                    f"{name} (leaky?)" if name in self.leaky_ else str(name),
                    _pct(r.coverage_train),
                    _pct(r.coverage_valid),
                    _pct(r.coverage_oot),
                    _num(r.univariate_auc, 3),
                    _num(r.binned_auc, 3),
                    _num(r.iv, 4),
                    _pct(r.gain_share),
                    _num(r.valid_auc_drop, 3),
                    _num(r.psi_train_oot, 4),
                )
                for name, r in self.features_.iterrows()
            ],
        )
        warnings = "\n".join(f"- {w}" for w in self.warnings_) or "- none"
        return (
            "# Data report\n\n"
            f"## Slices\n{slices}\n\n"
            f"## Warnings\n{warnings}\n\n"
            f"## Features\nUnivariate AUC is direction-free (max(AUC, 1 − AUC)) on the "
            f"training rows where the feature is known; binned AUC is that of its WoE bins "
            f"(missing as a bin). Above {self.max_univariate_auc:g} either, or IV above "
            f"{self.thresholds.get('iv_suspicious', IV_SUSPICIOUS):g}, or a quick LightGBM "
            f"leaning on it (gain share above "
            f"{self.thresholds.get('max_gain_share', MAX_GAIN_SHARE):.0%} and valid AUC "
            f"falling by more than {self.thresholds.get('max_auc_drop', MAX_AUC_DROP):g} "
            f"without it), a feature is flagged as likely leakage.\n\n{features}\n"
        )


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _pct(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.1%}"


def _num(value: float, digits: int) -> str:
    return "—" if math.isnan(value) else f"{value:.{digits}f}"


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------
def _check_threshold(max_univariate_auc: object) -> float:
    if (
        isinstance(max_univariate_auc, bool)
        or not isinstance(max_univariate_auc, numbers.Real)
        or not 0.5 < max_univariate_auc <= 1
    ):
        raise ValueError(f"max_univariate_auc must be in (0.5, 1]; got {max_univariate_auc!r}.")
    return float(max_univariate_auc)


def _check_features(features: object, label: str) -> list[str]:
    if isinstance(features, str) or not isinstance(features, Sequence) or not features:
        raise ValueError(f"features must be a non-empty list of column names; got {features!r}.")
    names = list(features)
    duplicated = sorted({f for f in names if names.count(f) > 1})
    if duplicated:
        raise ValueError(f"features must be unique; got {duplicated} more than once.")
    if label in names:
        raise ValueError(f"the label '{label}' must not be among the features.")
    return names


def _check_label(values: pd.Series, label: str, slice_name: str) -> npt.NDArray[np.int64]:
    y = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise ValueError(
            f"label '{label}' in slice '{slice_name}' must be 0 or 1; "
            f"got {values[bad].head(1).tolist()[0]!r} ({int(bad.sum())} bad row(s))."
        )
    return y.astype(np.int64)


def _check_slices(
    slices: object, label: str, features: list[str]
) -> dict[str, tuple[pd.DataFrame, npt.NDArray[np.int64]]]:
    if not isinstance(slices, Mapping) or set(slices) != set(SLICES):
        got = sorted(slices) if isinstance(slices, Mapping) else type(slices).__name__
        raise ValueError(f"slices must be keyed {list(SLICES)}; got {got}.")
    out = {}
    for name in SLICES:
        frame = slices[name]
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(
                f"slice '{name}' must be a pandas.DataFrame; got {type(frame).__name__}."
            )
        if frame.empty:
            raise ValueError(f"slice '{name}' has no rows.")
        absent = [c for c in (label, *features) if c not in frame.columns]
        if absent:
            raise ValueError(f"slice '{name}' lacks column(s) {absent[:10]}.")
        out[name] = (frame, _check_label(frame[label], label, name))
    return out


# ----------------------------------------------------------------------------
# Per-feature statistics
# ----------------------------------------------------------------------------
def _numeric(values: pd.Series) -> npt.NDArray[np.float64] | None:
    """Float values with ±inf as NaN, or None for a non-numeric (categorical) column."""
    if not pd.api.types.is_numeric_dtype(values.dtype):
        return None
    x = values.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isinf(x), np.nan, x)


def _known(values: pd.Series) -> npt.NDArray[np.bool_]:
    """Rows holding a value: finite for numbers (±inf is a division gone wrong), not NA else."""
    x = _numeric(values)
    return ~np.isnan(x) if x is not None else values.notna().to_numpy()


def _univariate_auc(values: pd.Series, y: npt.NDArray[np.int64]) -> float:
    """Direction-free AUC of one feature on its known rows; NaN without both classes.

    A numeric feature ranks by its value. A categorical one ranks by its category's default
    rate on the same rows, the best ordering its categories allow, so an identifier-like
    column that pins down the label is flagged as well.
    """
    known = _known(values)
    yk = y[known]
    if yk.size == 0 or yk.min() == yk.max():
        return math.nan
    x = _numeric(values)
    if x is not None:
        score = x[known]
    else:
        categories = values[known].astype(str).to_numpy()
        score = pd.Series(yk).groupby(categories).transform("mean").to_numpy()
    a = auc(yk, score)
    return max(a, 1.0 - a)


def _shares(codes: npt.NDArray[np.int64], n_bins: int) -> npt.NDArray[np.float64]:
    return np.maximum(np.bincount(codes, minlength=n_bins) / codes.size, PSI_EPS)


def _psi_from_codes(
    expected: npt.NDArray[np.int64], actual: npt.NDArray[np.int64], n_bins: int
) -> float:
    e, a = _shares(expected, n_bins), _shares(actual, n_bins)
    return float(np.sum((a - e) * np.log(a / e)))


def _numeric_codes(
    expected: npt.NDArray[np.float64], actual: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """Bin 0 for missing; bins 1.. for the deciles of train's known values.

    The decile edges follow ``training.metrics.psi`` exactly (inner quantiles, duplicates
    merged, a value equal to an edge in the bin that edge closes), so without missing values
    the feature PSI equals ``metrics.psi``.
    """
    finite = expected[~np.isnan(expected)]
    inner = (
        np.unique(np.quantile(finite, np.linspace(0.0, 1.0, PSI_BINS + 1)[1:-1]))
        if finite.size
        else np.empty(0)
    )

    def code(x: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        return np.where(np.isnan(x), 0, 1 + np.searchsorted(inner, x, side="left"))

    return code(expected), code(actual), inner.size + 2


def _category_codes(
    expected: pd.Series, actual: pd.Series
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """Bin 0 for missing; one bin per train category; one last bin for categories new in OOT."""
    levels = pd.Index(pd.unique(expected.dropna().astype(str)))
    unseen = levels.size + 1

    def code(s: pd.Series) -> npt.NDArray[np.int64]:
        pos = levels.get_indexer(s.astype(str))
        return np.where(s.isna().to_numpy(), 0, np.where(pos < 0, unseen, pos + 1))

    return code(expected), code(actual), levels.size + 2


def _feature_psi(expected: pd.Series, actual: pd.Series) -> float:
    """PSI of one feature with missing values as their own bin.

    A feature whose coverage collapses out of time has drifted even if its known values have
    not, so the missing share counts like any other bin. A constant feature gives 0.
    """
    e, a = _numeric(expected), _numeric(actual)
    if e is not None and a is not None:
        codes = _numeric_codes(e, a)
    else:
        codes = _category_codes(expected, actual)
    return _psi_from_codes(*codes)


def _feature_table(
    parts: Mapping[str, tuple[pd.DataFrame, npt.NDArray[np.int64]]],
    features: list[str],
    iv: pd.Series,
    binned: pd.Series,
    dominance: pd.DataFrame,
) -> pd.DataFrame:
    train, y_train = parts["train"]
    oot = parts["oot"][0]
    rows = {
        f: {
            **{f"coverage_{s}": float(_known(parts[s][0][f]).mean()) for s in SLICES},
            "univariate_auc": _univariate_auc(train[f], y_train),
            "binned_auc": float(binned.get(f, math.nan)),
            "iv": float(iv.get(f, math.nan)),
            "gain_share": float(dominance.at[f, "gain_share"]),
            "valid_auc_drop": float(dominance.at[f, "valid_auc_drop"]),
            "psi_train_oot": _feature_psi(train[f], oot[f]),
        }
        for f in features
    }
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(_FEATURE_COLUMNS))
    table.index.name = "feature"
    return table.astype(np.float64)


def _slice_table(parts: Mapping[str, tuple[pd.DataFrame, npt.NDArray[np.int64]]]) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "rows": [y.size for _, y in parts.values()],
            "defaults": [int(y.sum()) for _, y in parts.values()],
            "default_rate": [float(y.mean()) for _, y in parts.values()],
        },
        index=pd.Index(list(parts), name="slice"),
    )
    return table


def _resolve_binning(
    binning: BinningProcess | None,
    train: pd.DataFrame,
    y_train: npt.NDArray[np.int64],
    features: list[str],
    categorical: Sequence[str],
) -> BinningProcess:
    if binning is None:
        declared = [c for c in categorical if c in features]
        try:
            return fit_binning(train[features], y_train, declared)
        except ValueError:
            # optbinning fails the whole process on one column it cannot bin (e.g. known only
            # for one class); bin the others so that only that column goes without.
            usable = []
            for f in features:
                try:
                    fit_binning(train[[f]], y_train, [c for c in declared if c == f])
                except ValueError:
                    continue
                usable.append(f)
            return fit_binning(train[usable], y_train, [c for c in declared if c in usable])
    if not isinstance(binning, BinningProcess):
        raise TypeError(
            f"binning must be a fitted optbinning.BinningProcess; got {type(binning).__name__}."
        )
    return binning


def _resolve_iv(iv: pd.Series | None, binning: BinningProcess) -> pd.Series:
    if iv is None:
        return binning_ivs(binning)
    if not isinstance(iv, pd.Series):
        raise TypeError(f"iv must be a pandas.Series indexed by feature; got {type(iv).__name__}.")
    return iv.astype(np.float64)


# ----------------------------------------------------------------------------
# Warnings
# ----------------------------------------------------------------------------
def _leak_findings(table: pd.DataFrame, t: Mapping[str, float]) -> dict[str, list[str]]:
    """Per feature, every leak test that fired, worded with its number and threshold.

    A test prefixed "suspicious" marks the feature leaky; "check" ones only warn: a strong
    honest feature may carry half a small model, or have an IV above 0.5, but a column that
    ranks the label this well alone, or that a model cannot do without, is the usual sign of a
    value recorded after the outcome.
    """
    out: dict[str, list[str]] = {}
    for f, r in table.iterrows():
        found = []
        if r.univariate_auc > t["max_univariate_auc"]:
            found.append(
                f"suspicious: univariate AUC {r.univariate_auc:.3f} > "
                f"{t['max_univariate_auc']:g} on train"
            )
        if r.binned_auc > t["max_univariate_auc"]:
            found.append(
                f"suspicious: binned (WoE) AUC {r.binned_auc:.3f} > {t['max_univariate_auc']:g} "
                "on train"
            )
        if r.iv > t["iv_suspicious"]:
            found.append(f"suspicious: IV {r.iv:.3f} > {t['iv_suspicious']:g}")
        elif r.iv > t["iv_check"]:
            found.append(f"check: IV {r.iv:.3f} > {t['iv_check']:g}")
        gain = r.gain_share > t["max_gain_share"]
        drop = r.valid_auc_drop > t["max_auc_drop"]
        if gain or drop:
            parts = []
            if gain:
                parts.append(
                    f"{r.gain_share:.0%} of a quick LightGBM's gain > {t['max_gain_share']:.0%}"
                )
            if drop:
                parts.append(
                    f"valid AUC drops by {r.valid_auc_drop:.3f} > {t['max_auc_drop']:g} without it"
                )
            level = "suspicious" if gain and drop else "check"
            found.append(f"{level}: " + " and ".join(parts))
        if found:
            out[str(f)] = found
    return out


def _leakage_warnings(findings: Mapping[str, list[str]]) -> list[str]:
    out = []
    for f, found in findings.items():
        suspicious = any(x.startswith("suspicious") for x in found)
        advice = (
            "One feature separating the label this well is the usual sign of a column "
            "recorded after the outcome (leakage); check when it is recorded."
            if suspicious
            else "Strong for a single feature; check when it is recorded."
        )
        out.append(f"{f}: {'; '.join(found)}. {advice}")
    return out


def _is_leaky(found: list[str]) -> bool:
    return any(x.startswith("suspicious") for x in found)


def _coverage_warnings(table: pd.DataFrame) -> list[str]:
    out = []
    for f, row in table.iterrows():
        low = [
            f"{s} {row[f'coverage_{s}']:.1%}" for s in SLICES if row[f"coverage_{s}"] < MIN_COVERAGE
        ]
        if low:
            out.append(f"{f}: coverage below {MIN_COVERAGE:.0%} ({', '.join(low)}).")
    return out


def _psi_warnings(table: pd.DataFrame) -> list[str]:
    return [
        f"{f}: PSI train→OOT {v:.3f} > {MAX_PSI:g}, its distribution (or coverage) shifted."
        for f, v in table["psi_train_oot"].items()
        if v > MAX_PSI
    ]


def _infinite_warnings(
    parts: Mapping[str, tuple[pd.DataFrame, npt.NDArray[np.int64]]], features: list[str]
) -> list[str]:
    out = []
    for f in features:
        counts = {}
        for s in SLICES:
            values = parts[s][0][f]
            if pd.api.types.is_numeric_dtype(values.dtype):
                counts[s] = int(np.isinf(values.to_numpy(dtype=np.float64, na_value=np.nan)).sum())
        found = ", ".join(f"{n} in {s}" for s, n in counts.items() if n)
        if found:
            out.append(
                f"{f}: infinite values ({found}), counted as missing; a division by zero upstream?"
            )
    return out


def _default_rate_warnings(slices: pd.DataFrame) -> list[str]:
    out = [
        f"slice '{s}' has no defaults: AUC and KS cannot be measured on it."
        for s, d in slices["defaults"].items()
        if d == 0
    ]
    train, oot = slices.at["train", "default_rate"], slices.at["oot", "default_rate"]
    if train > 0 and oot > 0:
        ratio = max(oot / train, train / oot)
        if ratio > MAX_DEFAULT_RATE_RATIO:
            out.append(
                f"default rate moved from {train:.2%} (train) to {oot:.2%} (OOT), a factor of "
                f"{ratio:.2f} > {MAX_DEFAULT_RATE_RATIO:g}: the PD level will need recalibrating."
            )
    return out


# ----------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------
def build_data_report(
    slices: Mapping[str, pd.DataFrame],
    label: str,
    features: list[str],
    *,
    max_univariate_auc: float = 0.9,
    iv: pd.Series | None = None,
    binning: BinningProcess | None = None,
    categorical: Sequence[str] = (),
    iv_suspicious: float = IV_SUSPICIOUS,
    iv_check: float = IV_CHECK,
    max_gain_share: float = MAX_GAIN_SHARE,
    max_auc_drop: float = MAX_AUC_DROP,
    notes: Sequence[str] = (),
) -> DataReport:
    """Describe a split training table and flag what looks wrong.

    Parameters
    ----------
    slices : mapping of str to pandas.DataFrame
        Keyed ``"train"``, ``"valid"``, ``"oot"``; each holds the features and the label.
    label : str
        The label column, 0/1 (1 = default), no missing values.
    features : list of str
        Feature columns to describe. Numeric columns are compared by value; non-numeric ones
        (strings, pandas categories) by category.
    max_univariate_auc : float, default=0.9
        In (0.5, 1]. A feature whose direction-free AUC on train exceeds it is listed in
        ``leaky_``: real credit features rarely pass 0.8 alone.
    iv : pandas.Series, optional
        IV per feature, e.g. ``ScorecardBaseline.iv_``. Without it the IV is read from
        ``binning``. A feature absent from ``iv`` gets NaN.
    binning : optbinning.BinningProcess, optional
        The scorecard's fitted binning (``ScorecardBaseline.scorecard_.binning_process_``), so
        the table is not binned twice; without it the scorecard's binning is fitted here
        (:func:`training.baselines.fit_binning`). It gives the binned AUC and the IV.
    categorical : sequence of str
        Columns binned as categories although numeric (codes); text columns always are.
    iv_suspicious, iv_check : float
        IV above ``iv_suspicious`` marks a feature leaky; above ``iv_check`` it is a warning.
    max_gain_share, max_auc_drop : float
        A quick LightGBM on train judged on valid: a feature above both (share of the gain,
        valid-AUC drop without it) is leaky; above one of them it is a warning.
    notes : sequence of str
        Findings of the loader (text parsed as numbers, free text left out), listed right
        after the leak warnings.

    Returns
    -------
    DataReport

    Raises
    ------
    ValueError
        If ``max_univariate_auc`` is out of range, a slice is missing or empty, a column is
        absent, or the label is not 0/1.

    Notes
    -----
    Missing means NaN or ±inf (a ratio divided by zero), in coverage, AUC and PSI alike.
    The feature PSI puts missing values in their own bin next to train's deciles, so a
    collapse in coverage counts as drift.
    """
    threshold = _check_threshold(max_univariate_auc)
    names = _check_features(features, label)
    parts = _check_slices(slices, label, names)
    train, y_train = parts["train"]
    valid, y_valid = parts["valid"]
    fitted = _resolve_binning(binning, train, y_train, names, categorical)
    iv_values = _resolve_iv(iv, fitted)
    binned = binned_aucs(fitted, train, y_train, names)
    dominance = model_dominance(train, y_train, valid, y_valid, names, list(categorical))
    thresholds = {
        "max_univariate_auc": threshold,
        "iv_suspicious": float(iv_suspicious),
        "iv_check": float(iv_check),
        "max_gain_share": float(max_gain_share),
        "max_auc_drop": float(max_auc_drop),
    }

    feature_table = _feature_table(parts, names, iv_values, binned, dominance)
    slice_table = _slice_table(parts)
    findings = _leak_findings(feature_table, thresholds)
    leaky = [f for f, found in findings.items() if _is_leaky(found)]
    warnings = [
        *_leakage_warnings(findings),
        *notes,
        *_default_rate_warnings(slice_table),
        *_coverage_warnings(feature_table),
        *_psi_warnings(feature_table),
        *_infinite_warnings(parts, names),
    ]
    return DataReport(feature_table, slice_table, leaky, warnings, threshold, thresholds)
