"""Promotion gates: named, configurable rules a challenger must pass to replace the champion.

Both models are judged on the same newest out-of-time window. Each gate yields a value, a
threshold and a verdict, so a failed run can say exactly which rule broke and by how much,
and every value can be logged to MLflow and written to the promotion record.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from training import metrics
from training.config import ConfigError
from training.delong import auc_difference


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of the gates (``techrisk retrain --gate name=value`` overrides one).

    ``auc_tolerance``: the non-inferiority margin. The lower bound of the two-sided
    ``auc_ci_level`` DeLong CI of challenger − champion AUC must not fall below −margin, so a
    challenger is promoted only when the window shows it loses at most half a point of AUC
    (0.005). A wider margin let through a visibly degraded challenger (ΔAUC −0.0097 with the
    credit and tax feeds blanked in 60 % of its training rows); a point tolerance would also
    pass any loss hidden by a small window's noise. ``ece_max``: challenger's
    expected calibration error. ``grade_min_rows``: grades with fewer labelled rows are left
    out of the monotonicity check (their rates are noise). ``psi_max``: PSI of the two
    models' scores on the same applications. ``coverage_drop_max``: a feature whose share
    of non-missing values in the window fell by more than this fraction of its training
    share has collapsed. ``product_auc_tolerance``: no product's challenger AUC may be below
    the champion's by more.
    """

    auc_tolerance: float = 0.005
    auc_ci_level: float = 0.95
    ece_max: float = 0.03
    grade_min_rows: int = 50
    psi_max: float = 0.25
    coverage_drop_max: float = 0.5
    product_auc_tolerance: float = 0.05

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not np.isfinite(value) or value < 0:
                raise ConfigError(f"gate {f.name} must be a finite number >= 0; got {value!r}")
        if not 0 < self.auc_ci_level < 1:
            raise ConfigError(f"gate auc_ci_level must be in (0, 1); got {self.auc_ci_level!r}")

    def with_overrides(self, pairs: list[str]) -> GateConfig:
        """``name=value`` pairs from the command line."""
        known = {f.name: f.type for f in fields(self)}
        values: dict[str, Any] = asdict(self)
        for pair in pairs:
            name, sep, text = pair.partition("=")
            if not sep or name not in known:
                raise ConfigError(
                    f"gate override must be name=value with name in {sorted(known)}; got {pair!r}"
                )
            try:
                values[name] = int(text) if name == "grade_min_rows" else float(text)
            except ValueError:
                raise ConfigError(f"gate {name} must be a number; got {text!r}") from None
        return GateConfig(**values)


@dataclass(frozen=True)
class GateResult:
    name: str
    value: float
    threshold: float
    passed: bool
    detail: str

    def line(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        return f"{self.name}: {verdict} — {self.detail}"


@dataclass(frozen=True)
class Window:
    """The newest out-of-time window: labelled rows for the AUC, calibration and grade gates,
    every application (labelled or not) for the score PSI and feature coverage."""

    y: np.ndarray
    product: np.ndarray
    champion_pd: np.ndarray
    challenger_pd: np.ndarray
    challenger_grade: np.ndarray
    champion_score_all: np.ndarray
    challenger_score_all: np.ndarray
    coverage_train: dict[str, float]
    coverage_window: dict[str, float]


def evaluate_gates(w: Window, config: GateConfig) -> list[GateResult]:
    """Every gate, in a fixed order."""
    return [
        _auc_gate(w, config),
        _ece_gate(w, config),
        _grades_gate(w, config),
        _psi_gate(w, config),
        _coverage_gate(w, config),
        _product_gate(w, config),
    ]


def _auc_gate(w: Window, c: GateConfig) -> GateResult:
    champ, chall, diff, lo, hi = auc_difference(w.y, w.champion_pd, w.challenger_pd, c.auc_ci_level)
    margin = -c.auc_tolerance
    passed = lo >= margin
    if passed:
        verdict = "non-inferior"
    elif hi < margin:
        verdict = "inferior: the whole CI is below the margin"
    elif diff < margin:
        verdict = "not shown: the difference itself is below the margin"
    else:
        verdict = (
            f"not shown: the difference is within the margin but the CI (±{(hi - lo) / 2:.4f}) "
            "is too wide; a window with more labelled defaults could show it"
        )
    return GateResult(
        "auc_non_inferior",
        lo,
        margin,
        passed,
        f"non-inferiority on {len(w.y):,} labelled applications ({int(w.y.sum()):,} "
        f"defaults): challenger AUC {chall:.4f} vs champion {champ:.4f}, difference "
        f"{diff:+.4f}, {c.auc_ci_level:.0%} DeLong CI [{lo:+.4f}, {hi:+.4f}]; rule: CI low >= "
        f"{margin:+.4f} (margin auc_tolerance {c.auc_tolerance:g}); {verdict}",
    )


def _ece_gate(w: Window, c: GateConfig) -> GateResult:
    value = metrics.ece(w.y, w.challenger_pd)
    return GateResult(
        "ece",
        value,
        c.ece_max,
        value <= c.ece_max,
        f"challenger ECE {value:.4f}; rule: <= {c.ece_max:.4f}",
    )


def _grades_gate(w: Window, c: GateConfig) -> GateResult:
    table = metrics.grade_default_rates(w.challenger_grade, w.y)
    kept = table[table["n"] >= c.grade_min_rows]
    rates = kept["default_rate"].to_numpy()
    inversions = int(np.sum(np.diff(rates) < 0))
    shown = ", ".join(f"{int(g)}:{r:.1%}" for g, r in zip(kept["grade"], rates, strict=True))
    return GateResult(
        "grades_monotone",
        float(inversions),
        0.0,
        inversions == 0,
        f"{inversions} inversion(s) of the default rate over grades with >= "
        f"{c.grade_min_rows} rows ({shown}); rule: none",
    )


def _psi_gate(w: Window, c: GateConfig) -> GateResult:
    value = metrics.psi(w.champion_score_all, w.challenger_score_all)
    return GateResult(
        "score_psi",
        value,
        c.psi_max,
        value <= c.psi_max,
        f"PSI of challenger vs champion scores on the window's {len(w.champion_score_all):,} "
        f"applications {value:.4f}; rule: <= {c.psi_max:.2f}",
    )


def _coverage_gate(w: Window, c: GateConfig) -> GateResult:
    drops = {
        f: 1 - w.coverage_window.get(f, 0.0) / share
        for f, share in w.coverage_train.items()
        if share > 0
    }
    collapsed = sorted((f for f, d in drops.items() if d > c.coverage_drop_max), key=drops.get)
    worst = max(drops, key=drops.get) if drops else None
    value = drops[worst] if worst else 0.0
    named = ", ".join(
        f"{f} {w.coverage_train[f]:.0%}→{w.coverage_window.get(f, 0.0):.0%}" for f in collapsed
    )
    return GateResult(
        "feature_coverage",
        value,
        c.coverage_drop_max,
        not collapsed,
        f"largest relative coverage drop {value:.1%}"
        + (f" ({worst})" if worst else "")
        + (f"; collapsed: {named}" if collapsed else "")
        + f"; rule: no drop > {c.coverage_drop_max:.0%}",
    )


def _product_gate(w: Window, c: GateConfig) -> GateResult:
    worst, parts = 0.0, []
    for product in sorted(set(w.product)):
        rows = w.product == product
        y = w.y[rows]
        if y.sum() < 2 or (1 - y).sum() < 2:
            parts.append(f"{product}: too few defaults to compare")
            continue
        champ = metrics.auc(y, w.champion_pd[rows])
        chall = metrics.auc(y, w.challenger_pd[rows])
        worst = min(worst, chall - champ)
        parts.append(f"{product} {chall:.4f} vs {champ:.4f} ({chall - champ:+.4f})")
    return GateResult(
        "product_auc",
        worst,
        -c.product_auc_tolerance,
        worst >= -c.product_auc_tolerance,
        "; ".join(parts) + f"; rule: no product below the champion by more than "
        f"{c.product_auc_tolerance:.3f}",
    )
