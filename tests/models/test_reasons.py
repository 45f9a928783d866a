"""Reason codes: points that add up, families ranked both ways, a loan officer's words."""

from __future__ import annotations

import numpy as np
import pytest

from models.reasons import FeatureMeta, ReasonBuilder, format_value


@pytest.fixture(scope="module")
def explained(small_fit):
    from training.assemble import reason_builder

    data, fit = small_fit
    X = fit.matrices["oot"][:300]
    builder = reason_builder(data.features, fit.matrices["train"])
    base, points = fit.model.points(fit.model.contributions(X))
    return fit.model, builder, X, base, points


def test_family_points_plus_base_add_up_to_the_score(explained) -> None:
    model, builder, X, base, points = explained
    score = model.score(X).score
    totals = builder.family_totals(points)
    assert totals.shape == (len(X), len(builder.family_names))
    for i in range(len(X)):
        assert base[i] + totals[i].sum() == pytest.approx(score[i], abs=1e-8)


def test_families_are_ranked_by_how_much_they_raise_and_lower_risk(explained) -> None:
    _, builder, X, _, points = explained
    for out in builder.explain(X[:50], points[:50]):
        up = [r["points"] for r in out["raise_risk"]]
        down = [r["points"] for r in out["lower_risk"]]
        assert all(p < 0 for p in up) and up == sorted(up)
        assert all(p > 0 for p in down) and down == sorted(down, reverse=True)
        assert len(up) <= 5 and len(down) <= 5
        for reason in out["raise_risk"]:
            assert reason["zh"] and reason["en"] and reason["features"]
            assert all(f["points"] < 0 for f in reason["features"])


def test_reason_text_has_value_and_industry_reference() -> None:
    builder = ReasonBuilder(
        features=["ip_class1_valid", "firm_industry"],
        meta={
            "ip_class1_valid": FeatureMeta(
                "ip", "有效发明专利", "valid invention patents", "count", (), -1
            )
        },
        families={"ip": ("知识产权", "IP portfolio")},
        references={"ip_class1_valid": {"all": 1.0, "0": 3.0}},
        industry_feature="firm_industry",
    )
    (out,) = builder.explain(np.array([[0.0, 0.0]]), np.array([[-21.5, 0.0]]))
    reason = out["raise_risk"][0]
    assert reason["features"][0]["zh"] == "有效发明专利 0 件（同业中位数 3 件）"
    assert reason["features"][0]["en"] == "valid invention patents: 0 (industry median 3)"
    assert reason["points"] == -21.5 and reason["family_en"] == "IP portfolio"


@pytest.mark.parametrize(
    ("value", "unit", "labels", "expected"),
    [
        (0.053, "ratio", (), ("5.3%", "5.3%")),
        (1500.0, "wan", (), ("1,500 万元", "CNY 15.00m")),
        (95.0, "days", (), ("95 天", "95 days")),
        (2.0, "level", ("A", "B", "M"), ("B", "B")),
        (1.0, "category", ("tdld", "xyd"), ("xyd", "xyd")),
        (float("nan"), "count", (), ("无记录", "no record")),
        (1.0, "flag", (), ("是", "yes")),
    ],
)
def test_format_value(value, unit, labels, expected) -> None:
    assert format_value(value, unit, labels) == expected


def test_round_trip(explained) -> None:
    _, builder, X, _, points = explained
    again = ReasonBuilder.from_dict(builder.features, builder.to_dict())
    assert again.explain(X[:5], points[:5]) == builder.explain(X[:5], points[:5])


def test_only_the_risk_side_when_asked(explained) -> None:
    _, builder, X, _, points = explained
    both = builder.explain(X[:40], points[:40], top=3)
    risk = builder.explain(X[:40], points[:40], top=3, lower=False)
    assert [r["raise_risk"] for r in risk] == [r["raise_risk"] for r in both]
    assert all(r["lower_risk"] == [] for r in risk)
    assert any(r["lower_risk"] for r in both)


@pytest.mark.parametrize(
    ("value", "unit", "cap", "expected"),
    [
        (216.0, "months", None, ("18 年", "18 years")),
        (30.0, "months", None, ("2.5 年", "2.5 years")),
        (23.0, "months", None, ("23 个月", "23 months")),
        (0.4, "months", None, ("不足 1 个月", "under a month")),
        (3650.0, "days", 3650.0, ("10 年以上", "10+ years")),
        (400.0, "days", 3650.0, ("400 天", "400 days")),
        (24.0, "month_count", None, ("24 个月", "24 months")),
        (1.0, "times", None, ("1 次", "1 time")),
        (3.0, "rounds", None, ("3 轮", "3 rounds")),
    ],
)
def test_durations_read_as_an_officer_writes_them(value, unit, cap, expected) -> None:
    assert format_value(value, unit, cap=cap) == expected


def _registry_reason(name: str, value: float) -> dict:
    from features.registry import REGISTRY

    f = REGISTRY[name]
    meta = FeatureMeta(
        f.family, f.zh, f.en, f.unit, f.labels, f.direction,
        text=f.text, long_text=f.long_text, cap=f.cap, label_texts=f.label_texts,
    )  # fmt: skip
    builder = ReasonBuilder([name], {name: meta}, {}, {name: {"all": value}})
    return builder.feature_reason(0, value, -1.0, None)


def test_registry_sentences_at_the_extremes() -> None:
    """The issue's example and its kin: no "216 个月", no "3,650 天", no raw codes."""
    round_ = _registry_reason("vc_months_since_round", 216.0)
    assert round_["zh"].startswith("18 年未获股权融资")
    assert round_["en"].startswith("no equity round in 18 years")
    recent = _registry_reason("vc_months_since_round", 3.0)
    assert recent["zh"].startswith("最近一轮融资在 3 个月前")
    never = _registry_reason("cr_days_since_overdue", 3650.0)
    assert never["zh"].startswith("10 年以上无逾期") and never["en"].startswith("no overdue in 10+")
    product = _registry_reason("app_product", 0.0)
    assert product["zh"].startswith("产品 投贷联动") and "tdld" not in product["en"]


def test_caps_in_the_registry_are_the_feature_code_caps() -> None:
    from features.families.credit import NO_OVERDUE_DAYS
    from features.families.ip import NO_FILING_DAYS
    from features.registry import REGISTRY

    assert REGISTRY["cr_days_since_overdue"].cap == NO_OVERDUE_DAYS
    assert REGISTRY["ip_days_since_filing"].cap == NO_FILING_DAYS


def test_stored_meta_round_trips_with_sentences() -> None:
    from features.registry import REGISTRY

    f = REGISTRY["vc_stage"]
    meta = FeatureMeta(
        f.family, f.zh, f.en, f.unit, f.labels, f.direction,
        text=f.text, long_text=f.long_text, cap=f.cap, label_texts=f.label_texts,
    )  # fmt: skip
    builder = ReasonBuilder(["vc_stage"], {"vc_stage": meta}, {}, {})
    import json

    again = ReasonBuilder.from_dict(["vc_stage"], json.loads(json.dumps(builder.to_dict())))
    assert again.meta["vc_stage"] == meta
