"""Promotion gates on hand-made windows: each rule passes and fails where it should."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from training.config import ConfigError
from training.delong import auc_difference
from training.gates import GateConfig, Window, evaluate_gates

N = 4_000


def _window(**changes: object) -> Window:
    rng = np.random.default_rng(0)
    risk = rng.normal(size=N)
    pd_ = 1 / (1 + np.exp(-(-3.2 + 1.2 * risk)))
    y = (rng.random(N) < pd_).astype(float)
    grade = np.digitize(pd_, np.quantile(pd_, np.linspace(0.1, 0.9, 9))) + 1
    score = 600 - 50 * np.log(pd_ / (1 - pd_))
    values = dict(
        y=y,
        product=np.where(rng.random(N) < 0.4, "tdld", "xyd"),
        champion_pd=pd_,
        challenger_pd=pd_,
        challenger_grade=grade,
        champion_score_all=score,
        challenger_score_all=score,
        coverage_train={"a": 0.9, "b": 0.6},
        coverage_window={"a": 0.88, "b": 0.55},
    )
    values.update(changes)
    return Window(**values)


def _by_name(window: Window, config: GateConfig | None = None) -> dict[str, object]:
    return {g.name: g for g in evaluate_gates(window, config or GateConfig())}


def test_delong_agrees_with_sklearn_and_is_zero_for_the_same_scores() -> None:
    rng = np.random.default_rng(1)
    y = rng.random(3_000) < 0.05
    a, b = y + rng.normal(size=3_000), 0.5 * y + rng.normal(size=3_000)
    auc_a, auc_b, diff, lo, hi = auc_difference(y, a, b)
    assert auc_a == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert auc_b == pytest.approx(roc_auc_score(y, b), abs=1e-12)
    assert lo < diff < hi < 0  # b is clearly worse
    assert auc_difference(y, a, a)[2:] == pytest.approx((0.0, 0.0, 0.0))


def test_the_same_model_passes_every_gate() -> None:
    gates = _by_name(_window())
    assert list(gates) == [
        "auc_non_inferior",
        "ece",
        "grades_monotone",
        "score_psi",
        "feature_coverage",
        "product_auc",
    ]
    assert all(g.passed for g in gates.values()), [g.line() for g in gates.values()]
    assert gates["score_psi"].value == pytest.approx(0.0, abs=1e-9)


def test_a_degraded_challenger_fails_on_auc_and_per_product() -> None:
    rng = np.random.default_rng(2)
    w = _window()
    noisy = w.champion_pd * np.exp(rng.normal(scale=1.5, size=N))
    gates = _by_name(_window(challenger_pd=np.clip(noisy, 1e-4, 0.99)))
    assert not gates["auc_non_inferior"].passed
    assert gates["auc_non_inferior"].value < -0.02
    assert not gates["product_auc"].passed
    assert "DeLong CI" in gates["auc_non_inferior"].detail


def test_a_slightly_degraded_challenger_is_not_promoted_by_the_default_margin() -> None:
    """ΔAUC ≈ −0.01, the size of the loss a challenger trained with the credit and tax feeds
    blanked in 60 % of its rows showed: a 0.02 margin let it through, the default must not."""
    w = _window()
    noisy = w.champion_pd * np.exp(np.random.default_rng(2).normal(scale=0.3, size=N))
    degraded = _window(challenger_pd=np.clip(noisy, 1e-4, 0.99))
    assert _by_name(degraded, GateConfig(auc_tolerance=0.02))["auc_non_inferior"].passed
    gate = _by_name(degraded)["auc_non_inferior"]
    assert not gate.passed
    assert gate.threshold == -0.005 and -0.02 < gate.value < -0.005
    assert re.search(
        r"difference -0\.01\d{2}, 95% DeLong CI \[-0\.01\d{2}, -0\.00\d{2}\]", gate.detail
    )
    assert "rule: CI low >= -0.0050 (margin auc_tolerance 0.005)" in gate.detail
    assert "the difference itself is below the margin" in gate.detail
    assert f"{N:,} labelled applications ({int(w.y.sum()):,} defaults)" in gate.detail


def test_a_window_too_small_to_show_non_inferiority_says_so() -> None:
    w = _window()
    noisy = w.champion_pd * np.exp(np.random.default_rng(3).normal(scale=0.1, size=N))
    small = slice(0, 600)
    gate = _by_name(
        _window(
            y=w.y[small],
            product=w.product[small],
            champion_pd=w.champion_pd[small],
            challenger_pd=noisy[small],
            challenger_grade=w.challenger_grade[small],
        )
    )["auc_non_inferior"]
    assert not gate.passed
    assert "the CI (±0.0" in gate.detail and "more labelled defaults" in gate.detail


def test_miscalibration_inverted_grades_shifted_scores_and_lost_coverage_fail() -> None:
    w = _window()
    gates = _by_name(
        _window(
            challenger_pd=np.clip(w.champion_pd * 3, 0, 0.99),
            challenger_grade=11 - w.challenger_grade,
            challenger_score_all=w.champion_score_all - 80,
            coverage_window={"a": 0.88, "b": 0.1},
        )
    )
    assert not gates["ece"].passed and gates["ece"].value > 0.03
    assert not gates["grades_monotone"].passed and gates["grades_monotone"].value >= 1
    assert not gates["score_psi"].passed and gates["score_psi"].value > 0.25
    assert not gates["feature_coverage"].passed
    assert "b 60%→10%" in gates["feature_coverage"].detail


def test_zero_tolerances_pass_an_identical_model_and_a_zero_ece_bound_fails_it() -> None:
    gates = _by_name(_window(), GateConfig().with_overrides(["psi_max=0", "auc_tolerance=0"]))
    assert gates["auc_non_inferior"].passed  # CI of a zero difference is [0, 0]
    assert gates["score_psi"].passed  # 0 <= 0
    tight = GateConfig().with_overrides(["ece_max=0"])
    assert not _by_name(_window(), tight)["ece"].passed


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("psi", "name=value"),
        ("nonsense=1", "name=value"),
        ("psi_max=abc", "must be a number"),
        ("ece_max=-1", ">= 0"),
        ("auc_ci_level=1.5", "in \\(0, 1\\)"),
    ],
)
def test_bad_gate_overrides_name_the_gate_and_rule(pair: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        GateConfig().with_overrides([pair])
