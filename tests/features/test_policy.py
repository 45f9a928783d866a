"""The policy rules at their boundaries (DOMAIN.md; bands start at their lower bound)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import policy_rules
from features.build import build_features
from features.families import policy
from features.pit import to_days
from tests.features.firm_records import AS_OF, firm_sources


def _apply(fn, values):
    return list(fn(np.array(values, dtype=float)))


def test_staff_points_bands() -> None:
    shares = [0.0, 0.0999, 0.10, 0.1499, 0.15, 0.20, 0.2499, 0.25, 0.2999, 0.30, 1.0]
    assert _apply(policy_rules.tsme_staff_points, shares) == [0, 0, 4, 4, 8, 12, 12, 16, 16, 20, 20]
    assert np.isnan(policy_rules.tsme_staff_points(np.array([np.nan]))[0])


def test_staff_points_exact_fraction_reaches_band() -> None:
    assert policy_rules.tsme_staff_points(np.array([3 / 10]))[0] == 20
    assert policy_rules.tsme_staff_points(np.array([15 / 100]))[0] == 8


def test_rd_points_take_the_better_measure() -> None:
    by_revenue = [0.0199, 0.02, 0.03, 0.04, 0.05, 0.0599, 0.06]
    got = policy_rules.tsme_rd_points(np.array(by_revenue), np.full(len(by_revenue), np.nan))
    assert list(got) == [0, 10, 20, 30, 40, 40, 50]
    by_cost = [0.0999, 0.10, 0.15, 0.20, 0.25, 0.30]
    got = policy_rules.tsme_rd_points(np.full(len(by_cost), np.nan), np.array(by_cost))
    assert list(got) == [0, 10, 20, 30, 40, 50]
    assert policy_rules.tsme_rd_points(np.array([0.02]), np.array([0.31]))[0] == 50
    assert np.isnan(policy_rules.tsme_rd_points(np.array([np.nan]), np.array([np.nan]))[0])


def test_ip_points() -> None:
    class1 = np.array([1, 0, 0, 0, 0, 0, 0, 2])
    class2 = np.array([0, 0, 1, 2, 3, 4, 9, 0])
    assert list(policy_rules.tsme_ip_points(class1, class2)) == [30, 0, 6, 12, 18, 24, 24, 30]


def test_high_tech_rd_threshold_by_revenue() -> None:
    revenue = np.array([100, 5_000, 5_000.01, 20_000, 20_000.01])
    assert list(policy_rules.hnte_rd_threshold(revenue)) == [0.05, 0.05, 0.04, 0.04, 0.03]


def test_rd_band_edges() -> None:
    ratios = [0.0, 0.0099, 0.01, 0.0299, 0.03, 0.0499, 0.05, 0.0799, 0.08, 0.5]
    assert _apply(policy_rules.rd_band, ratios) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


@pytest.mark.parametrize(
    ("cert_on", "valid"),
    [
        ("2022-06-30", True),  # the day before D
        ("2022-07-01", False),  # on D: not known before D
        ("2019-07-01", True),  # expires exactly on D: still valid on D
        ("2019-06-30", False),  # expired the day before D
        (None, False),
    ],
)
def test_high_tech_certificate_validity(cert_on: str | None, valid: bool) -> None:
    cert = to_days(pd.Series([pd.Timestamp(cert_on) if cert_on else pd.NaT]))
    assert policy.high_tech_cert_valid(cert, to_days(pd.Series([AS_OF])))[0] == valid


def _features(**kwargs) -> pd.Series:
    sources = firm_sources(**kwargs)
    return build_features(sources, sources["applications"]).iloc[0]


def test_tsme_points_and_qualification_end_to_end() -> None:
    row = _features(employees=100, tech_staff=30, revenue=1_000, rd_expense=60)
    assert row["pol_tsme_staff_points"] == 20
    assert row["pol_tsme_rd_points"] == 50
    assert row["pol_tsme_ip_points"] == 0
    assert row["pol_tsme_points"] == 70
    assert row["pol_tsme_size_eligible"] == 1
    assert row["pol_tsme_qualified"] == 1


def test_tsme_needs_sixty_points() -> None:
    # 20 staff + 30 R&D (4 % of revenue, 4.4 % of cost) + 6 IP = 56 < 60
    row = _features(tech_staff=30, rd_expense=40, class2=1)
    assert row["pol_tsme_points"] == 56
    assert row["pol_tsme_qualified"] == 0


def test_tsme_needs_nonzero_staff_points() -> None:
    # 0 staff points (9 %) + 50 R&D + 30 IP = 80, yet not qualified without tech staff
    row = _features(tech_staff=9, class1=1)
    assert row["pol_tsme_points"] == 80
    assert row["pol_tsme_qualified"] == 0


def test_tsme_size_limits() -> None:
    assert _features(employees=500, tech_staff=150)["pol_tsme_size_eligible"] == 1
    assert _features(employees=501, tech_staff=150)["pol_tsme_size_eligible"] == 0
    assert _features(revenue=20_001, rd_expense=2_000)["pol_tsme_size_eligible"] == 0
    assert _features(total_assets=20_001)["pol_tsme_size_eligible"] == 0


def test_fast_track_with_valid_certificate() -> None:
    row = _features(tech_staff=5, rd_expense=0, cert_on="2021-01-15")
    assert row["pol_tsme_points"] == 0
    assert row["pol_tsme_fast_track"] == 1
    assert row["pol_tsme_qualified"] == 1


def test_high_tech_checks() -> None:
    # age >= 1, IP, high-tech field, tech staff 30 %, R&D 6 % >= 5 %, high-tech revenue 70 %
    assert _features(class1=1)["pol_hnte_checks_met"] == 6
    assert _features(class1=1, industry="other")["pol_hnte_checks_met"] == 5
    assert _features(class1=0)["pol_hnte_checks_met"] == 5
    assert _features(class1=1, rd_expense=45)["pol_hnte_rd_met"] == 0  # 4.5 % < 5 %
    assert _features(class1=1, revenue=6_000, rd_expense=240)["pol_hnte_rd_met"] == 1  # 4 %
