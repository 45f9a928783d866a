"""Figures a retraining run logs: ROC, KS, calibration, grade default rates, SHAP summary.

Each function returns a matplotlib Figure (Agg backend, no display) for ``mlflow.log_figure``.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve


def roc(y: np.ndarray, contenders: Mapping[str, np.ndarray]) -> Figure:
    """ROC curves of several risk scores on the same rows."""
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, risk in contenders.items():
        fpr, tpr, _ = roc_curve(y, risk)
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (OOT)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def ks(y: np.ndarray, pd_: np.ndarray) -> Figure:
    """Cumulative shares of defaults and non-defaults by PD; KS is the largest gap."""
    order = np.argsort(-pd_)
    bad = np.cumsum(y[order]) / max(y.sum(), 1)
    good = np.cumsum(1 - y[order]) / max((1 - y).sum(), 1)
    share = np.arange(1, len(y) + 1) / len(y)
    gap = np.argmax(bad - good)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(share, bad, label="defaults")
    ax.plot(share, good, label="non-defaults")
    ax.vlines(share[gap], good[gap], bad[gap], color="red", label=f"KS {bad[gap] - good[gap]:.3f}")
    ax.set(
        xlabel="share of applications, riskiest first", ylabel="cumulative share", title="KS (OOT)"
    )
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def calibration(y: np.ndarray, pd_: np.ndarray, n_bins: int = 10) -> Figure:
    """Observed default rate against mean PD in equal-frequency bins."""
    order = np.argsort(pd_)
    bins = np.array_split(order, n_bins)
    pred = [pd_[b].mean() for b in bins]
    obs = [y[b].mean() for b in bins]
    fig, ax = plt.subplots(figsize=(5, 5))
    top = max(max(pred), max(obs)) * 1.05
    ax.plot([0, top], [0, top], color="grey", linestyle=":")
    ax.plot(pred, obs, marker="o")
    ax.set(xlabel="mean predicted PD", ylabel="observed default rate", title="Calibration (OOT)")
    fig.tight_layout()
    return fig


def grade_rates(table: pd.DataFrame) -> Figure:
    """Observed default rate and mean PD per grade."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(table["grade"].astype(str), table["default_rate"], label="observed")
    if "pd_mean" in table:
        ax.plot(
            table["grade"].astype(str), table["pd_mean"], color="black", marker="o", label="mean PD"
        )
    ax.set(xlabel="grade (1 best)", ylabel="default rate", title="Default rate by grade (OOT)")
    ax.legend()
    fig.tight_layout()
    return fig


def shap_summary(contributions: np.ndarray, X: np.ndarray, features: list[str]) -> Figure:
    """shap's beeswarm of the TreeSHAP contributions (bias column dropped).

    The beeswarm shuffles the points it draws; its own generator, seeded, makes the artifact
    the same on every run whatever else seeded NumPy's global one.
    """
    import shap

    shap.summary_plot(
        contributions[:, :-1],
        X,
        feature_names=features,
        show=False,
        max_display=20,
        rng=np.random.default_rng(0),
    )
    fig = plt.gcf()
    fig.tight_layout()
    return fig
