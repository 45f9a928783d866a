"""The fund's verdicts: leverage judged against the band [policy floor, regulatory cap]."""

from __future__ import annotations

import pytest

from serving.screening.portfolio import PortfolioParams
from serving.screening.report_html import headline_html, verdict_rows

CAPITAL = 100_000.0
BOOK = ("组合", "The book")


def _judge(leverage: float, el_share: float = 0.01, **params) -> dict:
    fund = PortfolioParams(fund_capital=CAPITAL, **params)
    return fund.judge(leverage * CAPITAL, el_share * CAPITAL, BOOK)


@pytest.mark.parametrize(
    ("leverage", "sme", "status"),
    [
        (4.99, False, "under_used"),
        (5.0, False, "within_band"),
        (7.5, False, "within_band"),
        (10.0, False, "within_band"),
        (10.01, False, "over_cap"),
        (12.0, False, "over_cap"),
        (12.0, True, "within_band"),
        (15.0, True, "within_band"),
        (15.5, True, "over_cap"),
    ],
)
def test_leverage_is_judged_against_the_band(leverage, sme, status):
    v = _judge(leverage, sme_focused=sme)
    assert v["leverage_status"] == status
    assert v["leverage_cap"] == (15.0 if sme else 10.0)
    assert v["leverage_floor"] == 5.0
    assert v["fundable"] == (status != "over_cap")


def test_over_the_cap_says_how_much_the_book_must_shrink():
    v = _judge(10.01, coverage=0.8)
    assert v["shrink_guaranteed"] == pytest.approx(0.01 * CAPITAL)
    assert v["shrink_amount"] == pytest.approx(0.01 * CAPITAL / 0.8)
    assert "exceeds the regulatory cap of 10×" in v["leverage_en"]
    assert "超过监管上限 10×" in v["leverage_zh"]
    assert "NOT fundable" in v["headline_en"] and "不可承保" in v["headline_zh"]
    assert "1,250" in v["headline_en"]  # the loan amount to shed, in words
    assert _judge(9.99)["shrink_guaranteed"] == 0.0


def test_below_the_floor_is_fundable_but_capital_is_under_used():
    v = _judge(4.99)
    assert v["fundable"]
    assert "under-used" in v["leverage_en"] and "资本未充分使用" in v["leverage_zh"]


def test_expected_loss_beyond_the_budget_makes_the_book_unfundable():
    within = _judge(8.0, el_share=0.03, loss_budget=0.03)
    over = _judge(8.0, el_share=0.0301, loss_budget=0.03)
    assert within["within_loss_budget"] and within["fundable"]
    assert not over["within_loss_budget"] and not over["fundable"]
    assert "exceeds the budget of 3.00%" in over["headline_en"]
    assert "leverage" not in over["headline_en"]  # only what is wrong is named


def test_the_old_demo_conclusion_is_no_longer_drawn():
    """63.59× with EL 45 % of capital was reported as 'meets target'; it is ruin."""
    v = _judge(63.59, el_share=0.45)
    assert not v["fundable"]
    assert v["leverage_status"] == "over_cap"
    assert "exceeds the regulatory cap" in v["headline_en"]
    assert "exceeds the budget" in v["headline_en"]


def test_the_page_shows_a_breach_in_red():
    v = _judge(12.0)
    assert "class='headline bad'" in headline_html(v)
    assert "class='bad'" in verdict_rows(v)[0][1]
    assert "class='warn'" in verdict_rows(_judge(3.0))[0][1]
    assert "class='headline ok'" in headline_html(_judge(7.0))


@pytest.mark.parametrize(
    ("field", "value"),
    [("leverage_cap", 4.0), ("loss_budget", 0.0), ("leverage_floor", -1.0)],
)
def test_bad_fund_parameters_are_named(field, value):
    with pytest.raises(ValueError, match=field):
        PortfolioParams(**{field: value})
