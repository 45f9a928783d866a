"""Whether a guarantee book is fundable: leverage within the band, expected loss within budget.

A policy guarantee fund is judged against a band, not a floor. The municipal policy asks for a
guarantee leverage (担保放大倍数) of at least 5× (seed 002: 原则上不低于 5 倍); the 融资担保公司
监督管理条例 (2017) caps outstanding guarantee liabilities at 10× net assets, 15× for guarantors
that mainly serve small and micro firms and agriculture. Below the floor the capital is
under-used; above the cap the book is unlawful and must shrink. The expected loss the fund
bears is set against its loss budget (a share of capital per year that the fund chooses; it is
not a regulatory figure). A book is fundable when it is within the cap and the budget.
"""

from __future__ import annotations

from typing import Any

#: 担保放大倍数原则上不低于 5 倍 (seed 002).
POLICY_FLOOR = 5.0
#: 融资担保公司监督管理条例 (2017), art. 15: liabilities ≤ 10 × net assets ...
REGULATORY_CAP = 10.0
#: ... and ≤ 15 × for guarantors mainly serving small and micro firms and agriculture.
SME_FOCUSED_CAP = 15.0
#: Default annual loss budget: the fund's expected loss may use at most this share of capital.
DEFAULT_LOSS_BUDGET = 0.03

UNDER_USED = "under_used"
WITHIN = "within_band"
OVER_CAP = "over_cap"


def leverage_verdict(
    guaranteed: float, capital: float, floor: float, cap: float, coverage: float
) -> dict[str, Any]:
    """Where ``guaranteed ÷ capital`` sits in [floor, cap], and how far the book is off.

    Both edges belong to the band (exactly 5× meets the floor, exactly 10× is lawful).
    ``shrink_guaranteed`` is the guaranteed amount above the cap; ``shrink_amount`` is the loan
    amount it corresponds to at the fund's share ``coverage``.
    """
    leverage = guaranteed / capital
    excess = max(guaranteed - cap * capital, 0.0)
    room = max(floor * capital - guaranteed, 0.0)
    if leverage > cap:
        status = OVER_CAP
        zh = (
            f"放大倍数 {leverage:.2f}× 超过监管上限 {cap:g}×，"
            f"须缩减担保额 {excess:,.0f} 万元（贷款额 {excess / coverage:,.0f} 万元）"
        )
        en = (
            f"leverage {leverage:.2f}× exceeds the regulatory cap of {cap:g}×: the book must "
            f"shrink by {excess:,.0f} (10k CNY) guaranteed, {excess / coverage:,.0f} of loans"
        )
    elif leverage < floor:
        status = UNDER_USED
        zh = (
            f"放大倍数 {leverage:.2f}× 低于政策下限 {floor:g}×，资本未充分使用"
            f"（尚可担保 {room:,.0f} 万元）"
        )
        en = (
            f"leverage {leverage:.2f}× is below the policy floor of {floor:g}×: capital "
            f"under-used ({room:,.0f} (10k CNY) more could be guaranteed)"
        )
    else:
        status = WITHIN
        zh = f"放大倍数 {leverage:.2f}× 在 [{floor:g}×, {cap:g}×] 区间内"
        en = f"leverage {leverage:.2f}× is within the band [{floor:g}×, {cap:g}×]"
    return {
        "leverage": leverage,
        "leverage_status": status,
        "leverage_floor": floor,
        "leverage_cap": cap,
        "shrink_guaranteed": excess,
        "shrink_amount": excess / coverage,
        "leverage_zh": zh,
        "leverage_en": en,
    }


def loss_verdict(fund_el: float, capital: float, budget: float) -> dict[str, Any]:
    """The fund's expected loss against its budget (a share of capital; the edge is allowed)."""
    share = fund_el / capital
    within = share <= budget
    word_zh, word_en = ("在预算内", "within") if within else ("超出预算", "exceeds")
    return {
        "expected_loss_to_capital": share,
        "loss_budget": budget,
        "within_loss_budget": bool(within),
        "loss_zh": f"基金预期损失占资本 {share:.2%}，{word_zh}（预算 {budget:.2%}）",
        "loss_en": (
            f"fund expected loss {share:.2%} of capital {word_en} the budget of {budget:.2%}"
        ),
    }


def headline(leverage: dict[str, Any], loss: dict[str, Any], what_zh: str, what_en: str) -> dict:
    """One plain sentence (zh, en) on whether the book ``what`` is fundable, and why not."""
    fundable = leverage["leverage_status"] != OVER_CAP and loss["within_loss_budget"]
    if fundable:
        zh = f"{what_zh}可承保：{leverage['leverage_zh']}；{loss['loss_zh']}"
        en = f"{what_en} is fundable: {leverage['leverage_en']}; {loss['loss_en']}"
    else:
        problems = [
            (leverage["leverage_zh"], leverage["leverage_en"])
            if leverage["leverage_status"] == OVER_CAP
            else None,
            None if loss["within_loss_budget"] else (loss["loss_zh"], loss["loss_en"]),
        ]
        problems = [p for p in problems if p]
        zh = f"{what_zh}不可承保：" + "；".join(p[0] for p in problems)
        en = f"{what_en} is NOT fundable: " + "; ".join(p[1] for p in problems)
    return {"fundable": bool(fundable), "headline_zh": zh, "headline_en": en}


def judge(
    guaranteed: float,
    fund_el: float,
    capital: float,
    floor: float,
    cap: float,
    budget: float,
    coverage: float,
    what: tuple[str, str],
) -> dict[str, Any]:
    """Leverage verdict, loss verdict and the headline of one book, as one flat dict."""
    lev = leverage_verdict(guaranteed, capital, floor, cap, coverage)
    loss = loss_verdict(fund_el, capital, budget)
    return lev | loss | headline(lev, loss, *what)
