"""The portfolio report as one self-contained HTML page (plots inlined as PNG), zh / en.

It renders the numbers of ``portfolio.report`` and nothing else, so the page and the JSON
never disagree. Plot labels are English (no CJK font is assumed on a server); the page's
headings and notes are bilingual.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from serving.screening.portfolio import PD_EDGES

#: 高新技术领域 names of the contract's industry codes.
INDUSTRY_NAMES = {
    "electronic_info": "电子信息",
    "bio_medicine": "生物与新医药",
    "aerospace": "航空航天",
    "new_materials": "新材料",
    "high_tech_services": "高技术服务",
    "new_energy": "新能源与节能",
    "resources_environment": "资源与环境",
    "advanced_manufacturing": "先进制造与自动化",
    "other": "其他",
}
DECISIONS = {"approve": "通过", "review": "复核", "decline": "拒绝"}
PRODUCTS = {"tdld": "投贷联动", "xyd": "信易贷"}

STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC","PingFang SC",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em}
td{text-align:right}td:first-child{text-align:left}th{background:#f3f3f3}
.bad{color:#b00020;font-weight:bold}.ok{color:#1b5e20;font-weight:bold}
.warn{color:#a05a00;font-weight:bold}.headline{font-size:1.15em;padding:.6em;border:2px solid}
img{max-width:100%}.note{color:#555;font-size:.9em}
"""


#: CSS class of each leverage status: red above the cap, amber below the floor.
LEVERAGE_CLASS = {"over_cap": "bad", "under_used": "warn", "within_band": "ok"}


def headline_html(verdict: Mapping[str, Any]) -> str:
    """The plain sentence on whether a book is fundable, green or red."""
    cls = "ok" if verdict["fundable"] else "bad"
    return (
        f"<p class='headline {cls}'>{html.escape(verdict['headline_zh'])}<br>"
        f"{html.escape(verdict['headline_en'])}</p>"
    )


def verdict_rows(book: Mapping[str, Any]) -> list[list[str]]:
    """Table rows of a book's leverage (against the band) and expected loss (against budget)."""
    lev_cls = LEVERAGE_CLASS[book["leverage_status"]]
    loss_cls = "ok" if book["within_loss_budget"] else "bad"
    return [
        [
            "担保放大倍数 / guarantee leverage",
            f"<span class='{lev_cls}'>{html.escape(book['leverage_zh'])}<br>"
            f"{html.escape(book['leverage_en'])}</span>",
        ],
        [
            "基金预期损失/资本 / fund EL ÷ capital",
            f"<span class='{loss_cls}'>{html.escape(book['loss_zh'])}<br>"
            f"{html.escape(book['loss_en'])}</span>",
        ],
    ]


def render_html(report: Mapping[str, Any], counts: Mapping[str, int]) -> str:
    band = report["approve_band"]
    params = report["params"]
    sections = [
        "<h1>组合筛查报告 / Portfolio screening report</h1>",
        headline_html(report["headline"]),
        table_html(
            ["项目 / item", "值 / value"],
            [
                ["评分申请 / applications scored", f"{report['applications']:,}"],
                ["拒收行 / rows rejected", f"{counts.get('applications_rejected', 0):,}"],
                ["申请金额 / amount applied (万元)", f"{report['amount']:,.0f}"],
                ["预期损失 / expected loss (万元)", f"{report['expected_loss']['total']:,.1f}"],
                [
                    "通过档 / approve band",
                    f"{band['applications']:,} 笔 / loans, {band['amount']:,.0f} 万元",
                ],
                *verdict_rows(band),
            ],
        ),
        "<p class='note'>整个通过档全部担保时的结果；按资本、损失预算与集中度限额"
        "选择可担保的申请请用 <code>techrisk allocate</code>。 / "
        "What guaranteeing the whole approve band would mean; "
        "<code>techrisk allocate</code> chooses the applications the fund's capital, loss budget "
        "and concentration limits allow.</p>",
        "<h2>决策 / Decisions</h2>",
        table_html(
            ["决策 / decision", "笔数 / n", "占比 / share", "金额 / amount (万元)", "EL (万元)"],
            [
                [
                    f"{DECISIONS.get(d['decision'], d['decision'])} / {d['decision']}",
                    f"{d['n']:,}",
                    f"{d['share']:.1%}",
                    f"{d['amount']:,.0f}",
                    f"{d['el']:,.1f}",
                ]
                for d in report["decisions"]
            ],
        ),
        "<h2>评级分布 / Grade distribution</h2>",
        _img(_grade_plot(report["grades"])),
        table_html(
            ["等级 / grade", *_products(report), "合计 / all", "平均 PD / mean PD"],
            [
                [
                    str(g["grade"]),
                    *(f"{g.get(p, 0):,}" for p in _products(report)),
                    f"{g['all']:,}",
                    f"{g['mean_pd']:.2%}",
                ]
                for g in report["grades"]
            ],
        ),
        "<h2>PD 分布 / PD distribution</h2>",
        _img(_pd_plot(report["pd_by_product"], "product")),
        _pd_table(report["pd_by_product"], "product", PRODUCTS),
        _pd_table(report["pd_by_industry"], "industry", INDUSTRY_NAMES),
        "<h2>集中度（通过档）/ Concentration of the approve band</h2>",
        _concentration(report["concentration"]["industry"], "industry", INDUSTRY_NAMES),
        _concentration(report["concentration"]["district"], "district", {}),
        "<h2>压力测试 / Stress scenarios</h2>",
        _img(_stress_plot(report["stress"])),
        table_html(
            [
                "情景 / scenario",
                "通过笔数 / approved",
                "通过金额 / approved amount",
                "放大倍数 / leverage",
                "全部 EL / total EL",
                "通过档基金 EL/资本 / fund EL ÷ capital",
            ],
            [
                [
                    html.escape(s["description"]),
                    f"{s['approve_applications']:,}",
                    f"{s['approve_amount']:,.0f}",
                    f"{s['approve_leverage']:.2f}×",
                    f"{s['expected_loss']:,.1f}",
                    f"{s['approve_expected_loss_to_capital']:.2%}",
                ]
                for s in report["stress"]
            ],
        ),
        *migration_sections(report["migration"]),
        "<h2>参数 / Parameters</h2>",
        params_note(params),
    ]
    body = "\n".join(sections)
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>techrisk portfolio report</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def params_note(params: Mapping[str, Any]) -> str:
    return (
        f"<p class='note'>基金资本 / fund capital {params['fund_capital']:,.0f} 万元; "
        f"分险比例 / fund's share of each loan {params['coverage']:.0%}; "
        f"LGD {html.escape(str(params['lgd']))}; 放大倍数区间 / leverage band "
        f"[{params['leverage_floor']:g}×, {params['leverage_cap']:g}×] (政策下限 / policy floor; "
        "监管上限 / regulatory cap: 10×, 15× for SME-focused guarantors, "
        "融资担保公司监督管理条例); "
        f"年度损失预算 / annual loss budget {params['loss_budget']:.1%} of capital. "
        "EL = PD × LGD × EAD (EAD = amount); leverage = share × amount ÷ capital.</p>"
    )


def migration_sections(migration: Sequence[Mapping[str, Any]]) -> list[str]:
    """Per shocked-records scenario: grade migration of the exposed applications."""
    out = []
    for m in migration:
        grades = sorted(
            {int(g) for g in m["matrix"]} | {int(k) for row in m["matrix"].values() for k in row}
        )
        out += [
            f"<h3>评级迁移 / Grade migration — {html.escape(m['description'])}</h3>",
            f"<p>受冲击申请 / exposed applications {m['exposed_applications']:,}: "
            f"下调 / downgraded {m['downgraded']:,}, 不变 / unchanged {m['unchanged']:,}, "
            f"上调 / upgraded {m['upgraded']:,}; 失去通过 / leaving the approve band "
            f"{m['approve_lost']:,}; 其 EL / their EL {m['exposed_expected_loss']:,.1f} → "
            f"{m['exposed_stressed_expected_loss']:,.1f} 万元</p>",
            table_html(
                ["原等级 / from ↓ 冲击后 / to →", *(str(g) for g in grades)],
                [
                    [str(g), *(f"{m['matrix'].get(str(g), {}).get(str(h), 0):,}" for h in grades)]
                    for g in grades
                    if str(g) in m["matrix"]
                ],
            ),
        ]
    return out


def _products(report: Mapping[str, Any]) -> list[str]:
    return [p["product"] for p in report["pd_by_product"]]


def table_html(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def label_html(value: str, names: Mapping[str, str]) -> str:
    zh = names.get(value)
    return html.escape(f"{zh} / {value}" if zh else str(value))


def _pd_table(rows: Sequence[Mapping[str, Any]], key: str, names: Mapping[str, str]) -> str:
    return table_html(
        [key, "笔数 / n", "平均 / mean", "P10", "P50", "P90"],
        [
            [
                label_html(r[key], names),
                f"{r['applications']:,}",
                f"{r['mean_pd']:.2%}",
                f"≤{r['p10']:.2%}",
                f"≤{r['p50']:.2%}",
                f"≤{r['p90']:.2%}",
            ]
            for r in rows
        ],
    )


def _concentration(conc: Mapping[str, Any], key: str, names: Mapping[str, str]) -> str:
    rows = [
        [
            label_html(r[key], names),
            f"{r['n']:,}",
            f"{r['amount']:,.0f}",
            f"{r['share']:.1%}",
            f"{r['el']:,.1f}",
        ]
        for r in conc["largest"]
    ]
    return f"<p>HHI {conc['hhi']:.3f}</p>" + table_html(
        [key, "笔数 / n", "金额 / amount (万元)", "占比 / share", "EL (万元)"], rows
    )


def _img(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return (
        f"<img alt='plot' src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}'>"
    )


def _grade_plot(grades: Sequence[Mapping[str, Any]]) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 3))
    x = [g["grade"] for g in grades]
    ax.bar(x, [g["all"] for g in grades], color="#3b6ea5")
    ax.set(xlabel="grade (1 = safest)", ylabel="applications", xticks=x)
    fig.tight_layout()
    return fig


def _pd_plot(rows: Sequence[Mapping[str, Any]], key: str) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 3))
    centres = np.sqrt(PD_EDGES[1:-1] * PD_EDGES[2:])
    for r in rows:
        hist = np.asarray(r["histogram"][1:], dtype=float)
        ax.plot(centres, hist / max(hist.sum(), 1), label=str(r[key]))
    ax.set(xscale="log", xlabel="PD", ylabel="share of applications")
    ax.legend()
    fig.tight_layout()
    return fig


def _stress_plot(stress: Sequence[Mapping[str, Any]]) -> Figure:
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3))
    names = [s["scenario"] for s in stress]
    a.bar(names, [s["approve_amount"] for s in stress], color="#3b6ea5")
    a.set(title="approved amount (10k CNY)")
    b.bar(names, [s["expected_loss"] for s in stress], color="#a53b3b")
    b.set(title="expected loss (10k CNY)")
    for ax in (a, b):
        ax.tick_params(axis="x", labelrotation=15)
    fig.tight_layout()
    return fig
