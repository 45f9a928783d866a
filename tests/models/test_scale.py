"""Score scale, master scale and decision policy: golden numbers, monotonicity, round trip.

Hand derivation of the default scale (base 600 at odds 50:1, 40 points to double):
    factor = 40 / ln 2              = 57.70780163555854
    ln 50                           = 3.912023005428146
    offset = 600 - factor * ln 50   = 600 - 225.754247590989 = 374.245752409011
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.calibration import PlattCalibrator
from models.scale import (
    DEFAULT_CUTOFFS,
    DEFAULT_PD_UPPER_BOUNDS,
    DecisionPolicy,
    MasterScale,
    ScoreScale,
)

FACTOR = 57.70780163555854
OFFSET = 374.245752409011

probabilities = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


# ---------------------------------------------------------------- ScoreScale
def test_factor_and_offset_golden() -> None:
    s = ScoreScale()
    assert s.factor == pytest.approx(FACTOR, rel=1e-12)
    assert s.offset == pytest.approx(OFFSET, rel=1e-12)


def test_base_odds_score_base_score() -> None:
    # PD 1/51 -> odds (50/51)/(1/51) = 50:1 = base odds -> exactly the base score.
    assert ScoreScale().score(1 / 51) == pytest.approx(600, rel=1e-6)


def test_doubling_the_odds_adds_pdo() -> None:
    s = ScoreScale()
    # odds 100:1 (PD 1/101) is 50:1 doubled -> 600 + 40.
    assert s.score(1 / 101) == pytest.approx(640, rel=1e-6)
    # odds 25:1 (PD 1/26) is 50:1 halved -> 600 - 40.
    assert s.score(1 / 26) == pytest.approx(560, rel=1e-6)
    # PD 0.5 -> odds 1 -> ln 1 = 0 -> the offset.
    assert s.score(0.5) == pytest.approx(OFFSET, rel=1e-6)


def test_score_at_two_percent_golden() -> None:
    # odds 0.98/0.02 = 49; ln 49 = 3.8918202981106265
    # 374.245752409011 + 57.70780163555854 * 3.8918202981106265 = 598.8341461736193
    assert ScoreScale().score(0.02) == pytest.approx(598.8341461736193, rel=1e-6)


def test_custom_scale_golden() -> None:
    # base 300 at odds 20:1, pdo 20: factor = 20/ln2 = 28.85390081777927,
    # offset = 300 - 28.85390081777927 * ln 20 (2.995732273553991) = 213.5614381022527;
    # odds 80:1 = 20:1 doubled twice -> 340.
    s = ScoreScale(base_score=300, base_odds=20, pdo=20)
    assert s.offset == pytest.approx(213.5614381022527, rel=1e-9)
    assert s.score(1 / 81) == pytest.approx(340, rel=1e-6)


def test_pd_from_score_inverts_score() -> None:
    s = ScoreScale()
    # 680 = 600 + 2 * 40 -> odds 50 * 4 = 200 -> PD 1/201.
    assert s.pd_from_score(680) == pytest.approx(1 / 201, rel=1e-6)
    pds = np.array([1e-5, 0.001, 0.0196, 0.1, 0.5, 0.9, 0.99999])
    np.testing.assert_allclose(s.pd_from_score(s.score(pds)), pds, rtol=1e-9)


def test_score_from_logit_matches_score() -> None:
    s = ScoreScale()
    pds = np.array([1e-9, 1e-6, 0.003, 0.02, 0.3, 0.97, 1 - 1e-6, 1.0])
    with np.errstate(divide="ignore"):
        logits = np.log(pds) - np.log1p(-pds)
    np.testing.assert_allclose(s.score_from_logit(logits), s.score(pds), rtol=1e-9)
    np.testing.assert_allclose(
        s.logit_from_score(s.score_from_logit(logits[2:-2])), logits[2:-2], rtol=1e-9
    )


def test_pd_is_clipped_so_the_score_is_finite() -> None:
    s = ScoreScale()
    # logit(1e-6) = ln(1e-6 / (1 - 1e-6)) = -13.815509557963773
    # 374.245752409011 + 57.70780163555854 * 13.815509557963773 = 1171.5084374741475
    assert s.score(0.0) == pytest.approx(1171.5084374741475, rel=1e-6)
    assert s.score(0.0) == pytest.approx(s.score(1e-6), rel=1e-12)
    assert s.score(1.0) == pytest.approx(s.score(1 - 1e-6), rel=1e-9)
    assert s.score_range == (s.score(1.0), s.score(0.0))
    # logit +inf is PD 1 (the worst score), -inf is PD 0 (the best).
    assert s.score_from_logit(np.inf) == s.score(1.0)
    assert s.score_from_logit(-np.inf) == s.score(0.0)


def test_points_golden() -> None:
    # -factor * a * c = -(40/ln2) * 0.8 * 0.5 = -16/ln2 = -23.083120654223414
    assert ScoreScale().points(0.5, 0.8) == pytest.approx(-23.083120654223414, rel=1e-6)
    # A contribution that lowers the margin (less risk) earns points.
    assert ScoreScale().points(-0.5, 0.8) == pytest.approx(23.083120654223414, rel=1e-6)


def test_points_add_up_to_the_score() -> None:
    rng = np.random.default_rng(7)
    s = ScoreScale()
    a, b, expected = 0.83, -0.41, -3.2
    contribs = rng.normal(0.0, 0.6, size=(50, 12))
    margin = expected + contribs.sum(axis=1)
    score = s.score_from_logit(a * margin + b)
    base = s.base_points(expected, a, b)
    total = base + s.points(contribs, a).sum(axis=1)
    np.testing.assert_allclose(total, score, rtol=1e-12)
    # ... and the score is the one computed from the calibrated PD.
    pd_ = 1.0 / (1.0 + np.exp(-(a * margin + b)))
    np.testing.assert_allclose(s.score(pd_), score, rtol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pdo": -3}, "pdo must be > 0; got -3"),
        ({"pdo": 0}, "pdo must be > 0; got 0"),
        ({"base_odds": 0}, "base_odds must be > 0; got 0"),
        ({"pd_clip": 0.5}, r"pd_clip must be in \(0, 0.5\); got 0.5"),
        ({"base_score": float("nan")}, "base_score must be finite; got nan"),
    ],
)
def test_score_scale_rejects_bad_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ScoreScale(**kwargs)


def test_score_scale_rejects_non_numbers() -> None:
    with pytest.raises(TypeError, match="pdo must be a real number; got '40'"):
        ScoreScale(pdo="40")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-0.01, 1.01, float("nan")])
def test_score_rejects_pd_outside_unit_interval(bad: float) -> None:
    with pytest.raises(ValueError, match="pd must be in"):
        ScoreScale().score([0.1, bad])


# --------------------------------------------------------------- MasterScale
def test_grade_boundaries_are_upper_inclusive() -> None:
    m = MasterScale()
    bounds = np.array(DEFAULT_PD_UPPER_BOUNDS)
    np.testing.assert_array_equal(m.grade(bounds), np.arange(1, 11))
    np.testing.assert_array_equal(m.grade(np.nextafter(bounds[:-1], 1)), np.arange(2, 11))
    assert m.grade(0.0) == 1
    assert m.grade(1.0) == 10
    assert m.n_grades == 10


def test_master_table_golden() -> None:
    rows = MasterScale().table(ScoreScale())
    assert [r["grade"] for r in rows] == list(range(1, 11))
    assert rows[1]["pd_low"] == 0.005
    assert rows[1]["pd_high"] == 0.01
    # score at PD 0.5 %: odds 199, ln 199 = 5.293304824724492;
    # 374.245752409011 + 57.70780163555854 * 5.293304824724492 = 679.710737230757
    assert rows[1]["score_high"] == pytest.approx(679.710737230757, rel=1e-6)
    # score at PD 1 %: odds 99, ln 99 = 4.59511985013459;
    # 374.245752409011 + 57.70780163555854 * 4.59511985013459 = 639.4200172121954
    assert rows[1]["score_low"] == pytest.approx(639.4200172121954, rel=1e-6)
    # contiguous: each grade's low score is the next grade's high score
    for upper, lower in itertools.pairwise(rows):
        assert upper["score_low"] == lower["score_high"]
        assert upper["pd_high"] == lower["pd_low"]
    assert rows[0]["score_high"] == pytest.approx(ScoreScale().score_range[1])
    json.dumps(rows)  # JSON-able for the model card


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ((0.01, 0.005, 1.0), "strictly increasing; got 0.01 then 0.005 at position 1"),
        ((0.01, 0.5), "last of pd_upper_bounds must be 1.0"),
        ((0.0, 1.0), r"pd_upper_bounds\[0\] must be in \(0, 1\]; got 0.0"),
        ((1.0,), "at least 2 grades; got 1"),
    ],
)
def test_master_scale_rejects_bad_bounds(bounds: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MasterScale(bounds)


# ------------------------------------------------------------ DecisionPolicy
def test_decision_boundaries() -> None:
    pol = DecisionPolicy()
    up = np.nextafter
    pds = [0.0, 0.03, up(0.03, 1), 0.08, up(0.08, 1), 1.0]
    assert list(pol.decide(pds, "xyd")) == [
        "approve",
        "approve",
        "review",
        "review",
        "decline",
        "decline",
    ]
    pds = [0.04, up(0.04, 1), 0.12, up(0.12, 1)]
    assert list(pol.decide(pds, "tdld")) == ["approve", "review", "review", "decline"]
    assert pol.decide(0.05, "xyd") == "review"


def test_decision_mixed_products() -> None:
    out = DecisionPolicy().decide([0.035, 0.035, 0.10, 0.10], ["tdld", "xyd", "tdld", "xyd"])
    assert list(out) == ["approve", "review", "review", "decline"]


def test_unknown_product_is_named() -> None:
    pol = DecisionPolicy()
    with pytest.raises(ValueError, match="unknown product 'abc'; known products: tdld, xyd"):
        pol.decide(0.01, "abc")
    with pytest.raises(ValueError, match="unknown product 'zzz'"):
        pol.decide([0.01, 0.01], ["xyd", "zzz"])


@pytest.mark.parametrize(
    ("cutoffs", "message"),
    [
        (
            {"xyd": {"approve_max": 0.09, "decline_min": 0.08}},
            "approve_max must be < decline_min; got approve_max=0.09, decline_min=0.08",
        ),
        (
            {"xyd": {"approve_max": 0.0, "decline_min": 0.08}},
            r"\['approve_max'\] is a probability and must be in \(0, 1\); got 0.0",
        ),
        (
            {"xyd": {"approve_max": 0.03, "decline_min": 1.5}},
            r"\['decline_min'\] is a probability and must be in \(0, 1\); got 1.5",
        ),
        ({"xyd": {"approve_max": 0.03}}, "must have exactly the keys"),
    ],
)
def test_policy_rejects_bad_cutoffs(cutoffs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DecisionPolicy(cutoffs)


def test_default_cutoffs_are_grade_boundaries() -> None:
    # A grade maps to one decision per product: every default cut-off is a master-scale bound.
    for cut in DEFAULT_CUTOFFS.values():
        assert cut["approve_max"] in DEFAULT_PD_UPPER_BOUNDS
        assert cut["decline_min"] in DEFAULT_PD_UPPER_BOUNDS
    pol, bounds = DecisionPolicy(), (0.0, *DEFAULT_PD_UPPER_BOUNDS)
    for product in pol.products:
        for lo, hi in itertools.pairwise(bounds):
            inside = [np.nextafter(lo, 1), (lo + hi) / 2, hi]
            assert len(set(pol.decide(inside, product))) == 1


# -------------------------------------------------------------- monotonicity
_ORDER = {"approve": 0, "review": 1, "decline": 2}


@settings(derandomize=True, max_examples=300)  # deterministic, per the project convention
@given(probabilities, probabilities, st.sampled_from(["tdld", "xyd"]))
def test_higher_pd_never_scores_grades_or_decides_better(
    p1: float, p2: float, product: str
) -> None:
    lo, hi = min(p1, p2), max(p1, p2)
    s, m, pol = ScoreScale(), MasterScale(), DecisionPolicy()
    assert s.score(hi) <= s.score(lo)
    assert m.grade(hi) >= m.grade(lo)
    assert _ORDER[str(pol.decide(hi, product))] >= _ORDER[str(pol.decide(lo, product))]


@settings(derandomize=True, max_examples=300)  # deterministic, per the project convention
@given(st.floats(min_value=-50, max_value=50), st.floats(min_value=-50, max_value=50))
def test_higher_margin_never_scores_better(m1: float, m2: float) -> None:
    cal = PlattCalibrator.from_dict(_CALIBRATOR)
    s = ScoreScale()
    lo, hi = min(m1, m2), max(m1, m2)
    assert s.score_from_logit(cal.predict_logit(hi)) <= s.score_from_logit(cal.predict_logit(lo))


# ---------------------------------------------------------------- round trip
_CALIBRATOR = {
    "kind": "PlattCalibrator",
    "format": 1,
    "params": {"max_iter": 100, "tol": 1e-10},
    "slope": 0.8731,
    "intercept": -0.377,
    "n_samples": 5000,
    "n_iter": 6,
}


def _score_all(cal, scale, master, policy, margin, products):
    logit = cal.predict_logit(margin)
    pd_ = cal.predict_pd(margin)
    return (
        pd_,
        scale.score_from_logit(logit),
        scale.score(pd_),
        master.grade(pd_),
        policy.decide(pd_, products),
    )


def test_reloaded_scale_scores_identically() -> None:
    cal = PlattCalibrator.from_dict(_CALIBRATOR)
    scale = ScoreScale(base_score=612.5, base_odds=37.0, pdo=33.3)
    master = MasterScale((0.001, 0.007, 0.013, 0.021, 0.033, 0.05, 0.07, 0.11, 0.19, 1.0))
    policy = DecisionPolicy(
        {
            "tdld": {"approve_max": 0.05, "decline_min": 0.11},
            "xyd": {"approve_max": 0.021, "decline_min": 0.07},
        }
    )
    stored = json.dumps(
        {
            "calibrator": cal.to_dict(),
            "scale": scale.to_dict(),
            "master": master.to_dict(),
            "policy": policy.to_dict(),
        }
    )
    back = json.loads(stored)
    cal2 = PlattCalibrator.from_dict(back["calibrator"])
    scale2 = ScoreScale.from_dict(back["scale"])
    master2 = MasterScale.from_dict(back["master"])
    policy2 = DecisionPolicy.from_dict(back["policy"])
    assert (scale2, master2, policy2) == (scale, master, policy)

    rng = np.random.default_rng(3)
    margin = rng.normal(-3.5, 1.8, size=2000)
    products = rng.choice(["tdld", "xyd"], size=margin.size)
    for before, after in zip(
        _score_all(cal, scale, master, policy, margin, products),
        _score_all(cal2, scale2, master2, policy2, margin, products),
        strict=True,
    ):
        np.testing.assert_array_equal(before, after)  # identical, not approximately


def test_scale_objects_are_immutable() -> None:
    s, pol = ScoreScale(), DecisionPolicy()
    with pytest.raises(AttributeError, match="ScoreScale is immutable"):
        s.pdo = 20  # type: ignore[misc]
    with pytest.raises(TypeError):
        pol.cutoffs["xyd"]["approve_max"] = 0.5  # type: ignore[index]
    with pytest.raises(AttributeError, match="MasterScale is immutable"):
        MasterScale().pd_upper_bounds = (0.5, 1.0)  # type: ignore[misc]


def test_from_dict_rejects_wrong_kind() -> None:
    with pytest.raises(ValueError, match="expected kind 'ScoreScale'; got 'MasterScale'"):
        ScoreScale.from_dict(MasterScale().to_dict())
    with pytest.raises(ValueError, match="pdo must be > 0; got -3"):
        ScoreScale.from_dict({**ScoreScale().to_dict(), "pdo": -3})


def test_defaults_are_documented_values() -> None:
    assert DEFAULT_PD_UPPER_BOUNDS == (0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.06, 0.08, 0.12, 1.0)
    assert DecisionPolicy().cutoffs == {
        "tdld": {"approve_max": 0.04, "decline_min": 0.12},
        "xyd": {"approve_max": 0.03, "decline_min": 0.08},
    }
    assert math.isclose(ScoreScale().pd_from_score(600), 1 / 51)
