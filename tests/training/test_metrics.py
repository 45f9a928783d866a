"""Evaluation metrics against hand-computed cases and synthetic data with known behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.metrics import (
    auc,
    brier,
    ece,
    gini,
    grade_default_rates,
    is_monotone,
    ks,
    psi,
)

# y = [0,0,0,0,1,1,1,1], score = [1,2,3,5,4,6,7,8]. Walking the score down:
#   8,7,6 (defaults)   -> TPR .75, FPR 0     -> gap .75
#   5     (non-default)-> TPR .75, FPR .25
#   4     (default)    -> TPR 1,   FPR .25   -> gap .75
#   3,2,1              -> FPR up to 1
# KS = 0.75. AUC: of 16 (default, non-default) pairs only (4, 5) is misordered -> 15/16.
Y8 = np.array([0, 0, 0, 0, 1, 1, 1, 1])
S8 = np.array([1, 2, 3, 5, 4, 6, 7, 8], dtype=float)


def _calibrated(n: int = 100_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.01, 0.3, n)
    return (rng.random(n) < p).astype(int), p


# ------------------------------------------------------------ discrimination
def test_auc_of_perfect_and_reversed_ranking() -> None:
    y = [0, 0, 1, 1]
    assert auc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert auc(y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert gini(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert ks(y, [0.1, 0.2, 0.8, 0.9]) == 1.0


def test_known_case_golden() -> None:
    assert auc(Y8, S8) == pytest.approx(15 / 16, rel=1e-6)
    assert gini(Y8, S8) == pytest.approx(2 * 15 / 16 - 1, rel=1e-6)  # 0.875
    assert ks(Y8, S8) == pytest.approx(0.75, rel=1e-6)


def test_ties_count_half() -> None:
    # All scores tied: AUC is 0.5 and there is no threshold that separates anything.
    assert auc([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3]) == 0.5
    assert ks([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3]) == 0.0


def test_discrimination_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="only class 1"):
        auc([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"only 0 and 1; got 2\.0"):
        ks([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="same length as y; got 3 and 2"):
        auc([0, 1], [0.1, 0.2, 0.3])


# --------------------------------------------------------------- calibration
def test_brier_golden() -> None:
    # (0.1^2 + 0.4^2 + 0.65^2 + 0.2^2) / 4 = (0.01 + 0.16 + 0.4225 + 0.04) / 4 = 0.158125
    assert brier([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.158125, rel=1e-6)


def test_ece_golden_equal_frequency_bins() -> None:
    # Sorted PDs split 3 + 2 (numpy.array_split):
    #   bin 1: pd mean 0.2,  default rate 1/3 -> 3 * |1/3 - 0.2| = 0.4
    #   bin 2: pd mean 0.45, default rate 1/2 -> 2 * |0.5 - 0.45| = 0.1
    # ECE = (0.4 + 0.1) / 5 = 0.1
    pd_ = [0.5, 0.1, 0.4, 0.3, 0.2]
    y = [1, 0, 0, 1, 0]
    assert ece(y, pd_, n_bins=2) == pytest.approx(0.1, rel=1e-6)
    # One bin: |mean(y) - mean(pd)| = |0.4 - 0.3| = 0.1
    assert ece(y, pd_, n_bins=1) == pytest.approx(0.1, rel=1e-6)


def test_ece_small_when_calibrated_large_when_not() -> None:
    y, p = _calibrated()
    assert ece(y, p) < 0.005
    # Halving every PD: each bin is off by about mean(pd) / 2 = 0.155 / 2 = 0.0775.
    assert ece(y, p / 2) == pytest.approx(0.0775, abs=0.005)
    assert ece(y, np.minimum(1.5 * p, 1.0)) > 0.05


def test_ece_checks_bins() -> None:
    with pytest.raises(ValueError, match="n_bins must be <= the number of rows"):
        ece([0, 1], [0.2, 0.3], n_bins=3)
    with pytest.raises(TypeError, match=r"n_bins must be an integer; got 2\.5"):
        ece([0, 1], [0.2, 0.3], n_bins=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"pd must be in \[0, 1\]; got 1.2"):
        ece([0, 1], [0.2, 1.2])


def test_grade_default_rates_golden() -> None:
    table = grade_default_rates(
        [2, 1, 1, 2, 2, 3], [1, 0, 0, 0, 0, 1], pd=[0.2, 0.01, 0.02, 0.1, 0.3, 0.9]
    )
    assert list(table.columns) == ["grade", "n", "defaults", "default_rate", "pd_mean"]
    assert table["grade"].tolist() == [1, 2, 3]
    assert table["n"].tolist() == [2, 3, 1]
    assert table["defaults"].tolist() == [0, 1, 1]
    assert table["default_rate"].tolist() == pytest.approx([0.0, 1 / 3, 1.0], rel=1e-6)
    # pd_mean: (0.01 + 0.02)/2 = 0.015; (0.2 + 0.1 + 0.3)/3 = 0.2; 0.9
    assert table["pd_mean"].tolist() == pytest.approx([0.015, 0.2, 0.9], rel=1e-6)
    assert "pd_mean" not in grade_default_rates([1, 2], [0, 1]).columns
    assert is_monotone(table["default_rate"])


def test_is_monotone() -> None:
    assert is_monotone([0.001, 0.004, 0.004, 0.02])
    assert not is_monotone([0.001, 0.004, 0.004, 0.02], strict=True)
    assert not is_monotone([0.001, 0.02, 0.01])
    assert is_monotone([0.3, 0.1, 0.0], increasing=False)
    assert is_monotone([0.5])
    with pytest.raises(ValueError, match="NaN"):
        is_monotone([0.1, math.nan])


# ----------------------------------------------------------------- stability
def test_psi_of_identical_distributions_is_zero() -> None:
    _, p = _calibrated()
    assert psi(p, p) == 0.0
    rng = np.random.default_rng(1)
    assert psi(rng.normal(size=50_000), rng.normal(size=50_000)) < 0.01


def test_psi_of_shifted_distribution() -> None:
    rng = np.random.default_rng(2)
    # A half-s.d. shift of a normal gives PSI close to 0.25 (PSI ~ shift^2 for small shifts).
    value = psi(rng.normal(0, 1, 50_000), rng.normal(0.5, 1, 50_000))
    assert value > 0.1
    assert value == pytest.approx(0.25, abs=0.03)


def test_psi_golden() -> None:
    # expected 0..9, 2 bins -> one edge at the median 4.5: shares 0.5 / 0.5.
    # actual [0,1,5,6,7,8,9,9,9,9]: shares 0.2 / 0.8.
    # PSI = (0.2-0.5) ln(0.2/0.5) + (0.8-0.5) ln(0.8/0.5) = 0.3 (ln 1.6 - ln 0.4) = 0.3 ln 4
    #     = 0.41588830833596715
    actual = [0, 1, 5, 6, 7, 8, 9, 9, 9, 9]
    assert psi(np.arange(10), actual, bins=2) == pytest.approx(0.41588830833596715, rel=1e-6)


def test_psi_empty_bin_uses_eps_and_out_of_range_scores_count() -> None:
    # Every actual score is above the reference range: it all lands in the top bin, the
    # other nine get eps. PSI = 9 * (1e-4 - 0.1) ln(1e-4/0.1) + (1 - 0.1) ln(1/0.1)
    expected = np.arange(100, dtype=float)
    hand = 9 * (1e-4 - 0.1) * math.log(1e-4 / 0.1) + 0.9 * math.log(10)
    assert psi(expected, np.full(20, 1e6)) == pytest.approx(hand, rel=1e-6)


def test_psi_checks_arguments() -> None:
    with pytest.raises(ValueError, match=r"eps must be in \(0, 1\); got 0"):
        psi([1, 2], [1, 2], eps=0)
    with pytest.raises(ValueError, match="bins must be >= 1; got 0"):
        psi([1, 2], [1, 2], bins=0)
    with pytest.raises(ValueError, match="actual_scores must be finite; got nan"):
        psi([1, 2], [1, math.nan])
