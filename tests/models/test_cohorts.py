"""Peer-cohort percentiles, their fallback levels, and the size/age bands."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.cohorts import LEVEL_NAMES, PeerCohorts, age_band, size_band

FULL, IND_SIZE, IND, ALL = LEVEL_NAMES


def _population() -> tuple[pd.DataFrame, np.ndarray]:
    """A reference population with one cohort per fallback level.

    * software / small / 2-5: 101 firms, PD = 0.000, 0.001, ..., 0.100, so the
      0..100th percentiles are exactly the PDs (np.quantile, linear) -> golden.
    * software / small / <2: 10 firms, too few -> falls back to software / small
      (111 firms).
    * biotech / micro / 2-5 and biotech / medium / >=10: 20 firms each, too few at
      both finer levels -> biotech (40 firms).
    * other / large / >=10: 5 firms -> too few even for 'other' -> all.
    """
    parts = [
        ("software", "small", "2-5", np.arange(101) / 1000),
        ("software", "small", "<2", np.full(10, 0.3)),
        ("biotech", "micro", "2-5", np.linspace(0.05, 0.15, 20)),
        ("biotech", "medium", ">=10", np.linspace(0.01, 0.04, 20)),
        ("other", "large", ">=10", np.full(5, 0.02)),
    ]
    keys = pd.DataFrame(
        [(i, s, a) for i, s, a, p in parts for _ in p],
        columns=["industry", "size_band", "age_band"],
    )
    return keys, np.concatenate([p for *_, p in parts])


@pytest.fixture(scope="module")
def cohorts() -> PeerCohorts:
    keys, pd_ = _population()
    return PeerCohorts(min_size=30).fit(keys, pd_)


def _one(cohorts: PeerCohorts, industry: str, size: str, age: str, pd_: float):
    res = cohorts.percentile({"industry": industry, "size_band": size, "age_band": age}, pd_)
    return float(res.percentile[0]), str(res.level[0])


def test_percentile_golden(cohorts: PeerCohorts) -> None:
    # Sketch q[k] = k / 1000. PD 0.025 -> j = 25, F = 25/100 -> safer than 75 %.
    assert _one(cohorts, "software", "small", "2-5", 0.025) == (pytest.approx(75.0, rel=1e-6), FULL)
    # PD 0.0255 -> j = 25, frac = 0.5, F = 25.5/100 -> 74.5 %.
    assert _one(cohorts, "software", "small", "2-5", 0.0255)[0] == pytest.approx(74.5, rel=1e-6)
    # Below / at the minimum -> 100; at / above the maximum -> 0.
    assert _one(cohorts, "software", "small", "2-5", 0.0)[0] == 100.0
    assert _one(cohorts, "software", "small", "2-5", 0.1)[0] == 0.0
    assert _one(cohorts, "software", "small", "2-5", 0.9)[0] == 0.0


def test_fallback_levels(cohorts: PeerCohorts) -> None:
    assert _one(cohorts, "software", "small", "<2", 0.05)[1] == IND_SIZE
    assert _one(cohorts, "biotech", "micro", "2-5", 0.05)[1] == IND
    assert _one(cohorts, "other", "large", ">=10", 0.05)[1] == ALL
    assert _one(cohorts, "never-seen", "small", "2-5", 0.05)[1] == ALL
    # software / small / 5-10 does not exist -> its industry × size cohort.
    assert _one(cohorts, "software", "small", "5-10", 0.05)[1] == IND_SIZE


def test_fallback_uses_the_coarser_population(cohorts: PeerCohorts) -> None:
    # software / small (111 firms): 101 at i/1000 and 10 at 0.3. A firm at PD 0.2 is
    # safer than exactly the 10 firms at 0.3 -> 10/111 = 9.0 %, within one sketch step.
    pct, level = _one(cohorts, "software", "small", "<2", 0.2)
    assert level == IND_SIZE
    assert pct == pytest.approx(100 * 10 / 111, abs=1.0)


def test_ties_do_not_count_as_higher() -> None:
    # 60 firms at 0.02, 40 at 0.05: a firm at 0.02 is safer than exactly 40 % (ties are
    # not "higher"); the 101-point sketch gives 41 % (j = 59, F = 0.59), within one point.
    keys = pd.DataFrame(
        {"industry": ["ai"] * 100, "size_band": ["small"] * 100, "age_band": ["2-5"] * 100}
    )
    c = PeerCohorts(min_size=30).fit(keys, np.r_[np.full(60, 0.02), np.full(40, 0.05)])
    assert _one(c, "ai", "small", "2-5", 0.02)[0] == pytest.approx(41.0, rel=1e-6)
    assert _one(c, "ai", "small", "2-5", 0.05)[0] == 0.0


def test_key_formats_agree(cohorts: PeerCohorts) -> None:
    rows = [("software", "small", "2-5"), ("biotech", "micro", "2-5"), ("x", "y", "z")]
    pd_ = np.array([0.01, 0.07, 0.2])
    frame = pd.DataFrame(rows, columns=["industry", "size_band", "age_band"])
    mapping = {c: list(frame[c]) for c in frame.columns}
    a = cohorts.percentile(frame, pd_)
    b = cohorts.percentile(mapping, pd_)
    c = cohorts.percentile(np.array(rows, dtype=object), pd_)
    for other in (b, c):
        np.testing.assert_array_equal(a.percentile, other.percentile)
        np.testing.assert_array_equal(a.level, other.level)
    assert list(a.level) == [FULL, IND, ALL]


def test_missing_keys_are_unknown_cohort() -> None:
    keys = pd.DataFrame(
        {
            "industry": [None] * 40 + ["ai"] * 40,
            "size_band": [np.nan] * 40 + ["small"] * 40,
            "age_band": ["unknown"] * 40 + ["2-5"] * 40,
        }
    )
    c = PeerCohorts(min_size=30).fit(keys, np.r_[np.full(40, 0.2), np.full(40, 0.01)])
    assert ("industry+size_band+age_band", "unknown", "unknown", "unknown") in c.cohort_keys_
    pct, level = _one(c, None, float("nan"), "unknown", 0.1)  # type: ignore[arg-type]
    assert (pct, level) == (100.0, FULL)


def test_round_trip_is_identical(cohorts: PeerCohorts) -> None:
    back = PeerCohorts.from_dict(json.loads(json.dumps(cohorts.to_dict())))
    keys, pd_ = _population()
    a, b = cohorts.percentile(keys, pd_), back.percentile(keys, pd_)
    np.testing.assert_array_equal(a.percentile, b.percentile)
    np.testing.assert_array_equal(a.level, b.level)
    assert back.get_params() == cohorts.get_params()


def test_large_batch_matches_row_by_row(cohorts: PeerCohorts) -> None:
    # The batch path gathers sketches in chunks; it must agree with one-row calls.
    rng = np.random.default_rng(0)
    keys = pd.DataFrame(
        {
            "industry": rng.choice(["software", "biotech", "x"], 40_000),
            "size_band": rng.choice(["small", "micro"], 40_000),
            "age_band": rng.choice(["2-5", "<2"], 40_000),
        }
    )
    pd_ = rng.uniform(0, 0.4, 40_000)
    batch = cohorts.percentile(keys, pd_)
    for i in rng.choice(40_000, 50, replace=False):
        pct, level = _one(cohorts, *keys.iloc[i], pd_[i])
        assert (pct, level) == (batch.percentile[i], batch.level[i])


_FITTED = PeerCohorts(min_size=30).fit(*_population())
_KEYS = [("software", "small", "2-5"), ("biotech", "micro", "2-5"), ("q", "q", "q")]


@settings(derandomize=True, max_examples=300)  # deterministic, per the project convention
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=20), st.sampled_from(_KEYS))
def test_higher_pd_is_never_safer(pds: list[float], key: tuple[str, str, str]) -> None:
    c = _FITTED
    p = np.sort(np.asarray(pds))
    res = c.percentile(np.array([key] * p.size, dtype=object), p)
    assert np.all((res.percentile >= 0) & (res.percentile <= 100))
    assert np.all(np.diff(res.percentile) <= 0)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"min_size": 0}, ValueError, "min_size must be >= 1; got 0"),
        ({"min_size": 3.0}, TypeError, "min_size must be an integer; got 3.0"),
        ({"n_quantiles": 1}, ValueError, "n_quantiles must be >= 2; got 1"),
        ({"min_size": 1000}, ValueError, "has 156 rows; need at least min_size=1000"),
    ],
)
def test_fit_checks_parameters(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        PeerCohorts(**kwargs).fit(*_population())


def test_fit_checks_data() -> None:
    keys, pd_ = _population()
    with pytest.raises(ValueError, match="missing the column"):
        PeerCohorts().fit(keys.drop(columns="age_band"), pd_)
    with pytest.raises(ValueError, match=r"pd must be in \[0, 1\]; got 1.5"):
        PeerCohorts().fit(keys, np.r_[pd_[:-1], 1.5])


# --------------------------------------------------------------------- bands
def test_size_band_boundaries() -> None:
    nan = np.nan
    revenue = [nan, 10_000, 300, 299, 10_000, nan, 2_000, 40_000, 39_999, nan, 1e6, 1e6]
    employees = [nan, 19, 20, 500, 99, 100, 300, 300, 1_000, 300, nan, 5]
    assert list(size_band(revenue, employees)) == [
        "unknown",
        "micro",
        "small",
        "micro",
        "small",
        "medium",
        "medium",
        "large",
        "medium",
        "large",
        "large",
        "micro",
    ]


def test_age_band_boundaries() -> None:
    ages = [0.0, 1.999, 2.0, 4.99, 5.0, 9.99, 10.0, 30.0, np.nan]
    assert list(age_band(ages)) == [
        "<2",
        "<2",
        "2-5",
        "2-5",
        "5-10",
        "5-10",
        ">=10",
        ">=10",
        "unknown",
    ]
    with pytest.raises(ValueError, match=r"age_years must be >= 0; got -1\.0"):
        age_band([3.0, -1.0])
