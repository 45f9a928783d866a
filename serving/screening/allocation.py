"""``techrisk allocate``: select the fundable book from a screening and report on it.

Selection runs on a finished screening's output (``screened.parquet``, and
``stressed.parquet`` for the shocked-records scenarios) rather than inside ``techrisk screen``:
scoring a province's list takes minutes, selecting takes seconds, and a fund tries several
capitals, budgets and limits on one screening. The factor scenarios (macro factor, shocked
industries) are the screening's, read from its ``portfolio.json``.

Writes ``selected.csv`` (the book, in rank order), ``left_out.csv`` (every other candidate and
the constraints it would breach), ``allocation.json`` and ``allocation.html`` (the selected
book's figures: leverage against the band, expected loss against the budget, concentrations
against their limits, and its expected loss under every stress scenario).
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from serving.screening.allocate import REASONS, AllocationParams, Limits, select
from serving.screening.portfolio import PortfolioParams
from serving.screening.report_html import (
    INDUSTRY_NAMES,
    STYLE,
    headline_html,
    label_html,
    params_note,
    table_html,
    verdict_rows,
)

SELECTED = "selected.csv"
LEFT_OUT = "left_out.csv"
REPORT_JSON = "allocation.json"
REPORT_HTML = "allocation.html"
KINDS = {"records": "重新评分 / re-scored records", "factor": "PD 倍数 / PD factor"}
SELECTED_BOOK = ("所选组合", "The selected book")
#: Columns of the screened output written beside the selection's own.
OUT_COLUMNS = (
    "rank",
    "loan_id",
    "credit_code",
    "product",
    "amount",
    "guaranteed",
    "guarantee",
    "industry",
    "district",
    "pd",
    "grade",
    "decision",
    "fund_el",
)


@dataclass
class AllocationResult:
    report: dict[str, Any]
    seconds: float
    files: dict[str, Path] = field(default_factory=dict)


def allocate(
    screening: Path, out: Path, fund: PortfolioParams, alloc: AllocationParams
) -> AllocationResult:
    """Select from the screening in ``screening`` and write the book and its report to ``out``."""
    screening, out = Path(screening), Path(out)
    screened_path = screening / "screened.parquet"
    if not screened_path.exists():
        raise FileNotFoundError(f"{screened_path}: no screened output; run techrisk screen first")
    screened = pd.read_parquet(screened_path)
    stressed_path = screening / "stressed.parquet"
    stressed = pd.read_parquet(stressed_path) if stressed_path.exists() else None
    portfolio = screening / "portfolio.json"
    screen_params = json.loads(portfolio.read_text())["params"] if portfolio.exists() else {}
    start = time.perf_counter()
    selected, left = select(screened, fund, alloc)
    seconds = time.perf_counter() - start
    report = book_report(selected, left, fund, alloc, stressed, screen_params)
    report["seconds"] = seconds
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "selected": out / SELECTED,
        "left_out": out / LEFT_OUT,
        "report_json": out / REPORT_JSON,
        "report_html": out / REPORT_HTML,
    }
    columns = [c for c in OUT_COLUMNS if c in selected.columns]
    selected[columns].to_csv(files["selected"], index=False)
    left[[*columns, "reasons", "reason_zh", "reason_en"]].to_csv(files["left_out"], index=False)
    files["report_json"].write_text(json.dumps(report, ensure_ascii=False, indent=1))
    files["report_html"].write_text(render_allocation(report), encoding="utf-8")
    return AllocationResult(report, seconds, files)


def book_report(
    selected: pd.DataFrame,
    left: pd.DataFrame,
    fund: PortfolioParams,
    alloc: AllocationParams,
    stressed: pd.DataFrame | None,
    screen_params: Mapping[str, Any],
) -> dict[str, Any]:
    """The selected book's figures as JSON-ready numbers (the page renders exactly these)."""
    limits = Limits.of(fund, alloc)
    guaranteed = float(selected["guaranteed"].sum())
    fund_el = float(selected["fund_el"].sum())
    verdict = fund.judge(guaranteed, fund_el, SELECTED_BOOK)
    first = left["reasons"].str.split(";").str[0]
    return {
        "params": fund.to_dict() | {"allocation": alloc.to_dict()},
        "limits": {
            "capacity": limits.capacity,
            "loss_budget": limits.loss_budget,
            "per_industry": limits.per_industry,
            "per_district": limits.per_district,
        },
        "headline": {k: verdict[k] for k in ("fundable", "headline_zh", "headline_en")},
        "book": {
            "applications": len(selected),
            "firms": int(selected["credit_code"].nunique()) if "credit_code" in selected else None,
            "amount": float(selected["amount"].sum()),
            "guaranteed": guaranteed,
            "fund_expected_loss": fund_el,
        }
        | verdict,
        "candidates": len(selected) + len(left),
        "left_out": {
            "applications": len(left),
            "amount": float(left["amount"].sum()),
            "by_first_reason": {
                code: {
                    "applications": int((first == code).sum()),
                    "amount": float(left["amount"][first == code].sum()),
                    "zh": REASONS[code][0],
                    "en": REASONS[code][1],
                }
                for code in REASONS
            },
        },
        "concentration": {
            key: _usage(selected, key, limit)
            for key, limit in (
                ("industry", limits.per_industry),
                ("district", limits.per_district),
            )
        },
        "stress": stress_of_book(selected, fund, stressed, screen_params),
    }


def stress_of_book(
    selected: pd.DataFrame,
    fund: PortfolioParams,
    stressed: pd.DataFrame | None,
    screen_params: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The selected book's fund EL under the factor and the shocked-records scenarios."""
    base_pd = selected["pd"].to_numpy(dtype=np.float64)
    loss_rate = np.divide(
        selected["fund_el"].to_numpy(), base_pd, out=np.zeros(len(base_pd)), where=base_pd > 0
    )
    macro = float(screen_params.get("macro_factor", fund.macro_factor))
    shock = float(screen_params.get("shock_factor", fund.shock_factor))
    shocked_ind = screen_params.get("shocked_industries", list(fund.shocked_industries))
    labels = screen_params.get("scenarios", fund.scenarios())
    hit = selected["industry"].isin(shocked_ind).to_numpy()
    pds = {
        "base": (base_pd, None),
        "macro": (np.minimum(base_pd * macro, 1.0), None),
        "industry_shock": (np.minimum(np.where(hit, base_pd * shock, base_pd), 1.0), None),
    }
    if stressed is not None:
        for name, rows in stressed.groupby("scenario"):
            by_loan = rows.set_index("loan_id")
            pd_s = selected["loan_id"].map(by_loan["pd"])
            dec_s = selected["loan_id"].map(by_loan["decision"])
            moved = pd_s.notna().to_numpy()
            pds[str(name)] = (
                np.where(moved, pd_s.to_numpy(dtype=np.float64, na_value=np.nan), base_pd),
                {
                    "exposed_in_book": int(moved.sum()),
                    "downgraded": int(
                        (selected["loan_id"].map(by_loan["grade"]) > selected["grade"]).sum()
                    ),
                    "would_leave_approve_band": int((dec_s.notna() & (dec_s != "approve")).sum()),
                },
            )
    out = []
    for name, (pd_s, moves) in pds.items():
        el = float((pd_s * loss_rate).sum())
        out.append(
            {
                "scenario": name,
                "description": labels.get(name, name),
                "kind": "records" if moves is not None else "factor",
                "fund_expected_loss": el,
                "expected_loss_to_capital": el / fund.fund_capital,
                "within_loss_budget": bool(el <= fund.loss_budget * fund.fund_capital),
            }
            | (moves or {})
        )
    return out


def _usage(selected: pd.DataFrame, key: str, limit: float) -> list[dict[str, Any]]:
    g = selected.groupby(key)["guaranteed"].sum().sort_values(ascending=False)
    return [
        {key: str(k), "guaranteed": float(v), "limit": limit, "share_of_limit": float(v / limit)}
        for k, v in g.items()
    ]


def render_allocation(report: Mapping[str, Any]) -> str:
    """The selected book's page (zh / en): headline, figures, reasons, concentration, stress."""
    book, lim, left = report["book"], report["limits"], report["left_out"]
    alloc = report["params"]["allocation"]
    objective = {"amount": "担保金额 / guaranteed amount", "firms": "企业数 / firms served"}
    sections = [
        "<h1>资本约束下的担保选择 / Capital-constrained selection</h1>",
        headline_html(report["headline"]),
        table_html(
            ["项目 / item", "值 / value"],
            [
                ["候选申请 / candidates", f"{report['candidates']:,}"],
                [
                    "入选 / selected",
                    f"{book['applications']:,} 笔 / loans, {book['amount']:,.0f} 万元 "
                    f"(担保 / guaranteed {book['guaranteed']:,.0f})",
                ],
                ["未入选 / left out", f"{left['applications']:,} 笔, {left['amount']:,.0f} 万元"],
                *verdict_rows(book),
                ["优化目标 / objective", objective[alloc["objective"]]],
                ["选择耗时 / selection time", f"{report['seconds']:.2f} s"],
            ],
        ),
        "<h2>未入选原因 / Why loans were left out</h2>",
        "<p class='note'>首要原因：加入所选组合会突破的第一个约束（left_out.csv 列出全部）。"
        " / First reason: the first constraint adding the loan to the book would breach "
        "(left_out.csv lists all).</p>",
        table_html(
            ["原因 / reason", "笔数 / n", "金额 / amount (万元)"],
            [
                [
                    html.escape(f"{r['zh']} / {r['en']}"),
                    f"{r['applications']:,}",
                    f"{r['amount']:,.0f}",
                ]
                for r in left["by_first_reason"].values()
            ],
        ),
        "<h2>集中度 / Concentration (担保额 / guaranteed vs limit)</h2>",
        *(
            table_html(
                [key, "担保额 / guaranteed", "限额 / limit", "占用 / used"],
                [
                    [
                        label_html(r[key], INDUSTRY_NAMES if key == "industry" else {}),
                        f"{r['guaranteed']:,.0f}",
                        f"{r['limit']:,.0f}",
                        f"{r['share_of_limit']:.1%}",
                    ]
                    for r in report["concentration"][key]
                ],
            )
            for key in ("industry", "district")
        ),
        "<h2>压力测试（所选组合）/ Stress on the selected book</h2>",
        table_html(
            [
                "情景 / scenario",
                "类型 / kind",
                "基金 EL / fund EL",
                "EL/资本 / ÷ capital",
                "预算 / budget",
            ],
            [
                [
                    html.escape(s["description"]),
                    "重新评分 / re-scored records"
                    if s["kind"] == "records"
                    else "PD 倍数 / factor",
                    f"{s['fund_expected_loss']:,.1f}",
                    f"{s['expected_loss_to_capital']:.2%}",
                    "<span class='ok'>内 / within</span>"
                    if s["within_loss_budget"]
                    else "<span class='bad'>超 / over</span>",
                ]
                for s in report["stress"]
            ],
        ),
        *(
            f"<p>{html.escape(s['description'])}: 组合内受冲击 / exposed in the book "
            f"{s['exposed_in_book']:,}, 下调 / downgraded {s['downgraded']:,}, "
            f"将失去通过 / would leave the approve band {s['would_leave_approve_band']:,}</p>"
            for s in report["stress"]
            if s["kind"] == "records"
        ),
        "<h2>参数 / Parameters</h2>",
        params_note(report["params"]),
        f"<p class='note'>担保能力 / capacity {lim['capacity']:,.0f} 万元 = cap × capital; "
        f"损失预算 / loss budget {lim['loss_budget']:,.0f} 万元; 单一行业限额 / per industry "
        f"{lim['per_industry']:,.0f} ({alloc['industry_limit']:.0%} of capacity); 单一区域限额 / "
        f"per district {lim['per_district']:,.0f} ({alloc['district_limit']:.0%}).</p>",
    ]
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>techrisk allocation</title><style>{STYLE}</style></head>"
        f"<body>{''.join(sections)}</body></html>"
    )
