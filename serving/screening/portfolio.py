"""The guarantee fund's view of a screened batch: losses, concentrations, leverage, stress.

Each part is reduced to small mergeable tables while its rows are in memory (``aggregate``):
counts and sums per (product, industry, district, guarantee, grade, decision, PD bin) cell,
and per stress scenario. The report is built from the merged cells, so its cost and memory do
not grow with the number of applications, and a resumed run reports on every part.

Definitions (parameters in :class:`PortfolioParams`, all recorded in the report):

- expected loss ``EL = PD × LGD × EAD`` with ``EAD`` the loan amount and ``LGD`` by the
  loan's guarantee type; the fund bears ``coverage`` of it (the bank keeps the rest, 银担分险);
- guarantee leverage (担保放大倍数) of approving the approve band
  ``= coverage × approved amount / fund capital``; policy funds are expected to reach 5×;
- stress scenarios scale PDs (capped at 1) — across the board (a macro factor) or for the
  industries hit in 2020 (export-oriented electronics and manufacturing) — and re-apply the
  model's decision cut-offs, so the approve band shrinks and expected losses move as they would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.pd_model import PDModel
from techrisk_base.errors import InvalidArgument

#: Edges of the PD bins the distributions are kept in (log-spaced, 0.01 % … 100 %).
PD_EDGES = np.concatenate([[0.0], np.logspace(-4, 0, 81)])
N_BINS = len(PD_EDGES) - 1
CELL_KEYS = ["product", "industry", "district", "guarantee", "grade", "decision", "pd_bin"]
STRESS_KEYS = ["scenario", "product", "decision"]
#: The 2020 shock hit export-oriented firms in these fields (DOMAIN.md, seed 000).
SHOCKED_INDUSTRIES = ("electronic_info", "advanced_manufacturing")


@dataclass(frozen=True)
class PortfolioParams:
    """The fund's parameters: capital (万元), risk share, LGD per guarantee type, stress."""

    fund_capital: float = 100_000.0
    coverage: float = 0.8
    lgd: Mapping[str, float] = field(
        default_factory=lambda: {"none": 0.65, "fund": 0.55, "ip_pledge": 0.45}
    )
    target_leverage: float = 5.0
    macro_factor: float = 1.5
    shock_factor: float = 2.0
    shocked_industries: tuple[str, ...] = SHOCKED_INDUSTRIES

    def __post_init__(self) -> None:
        checks = {
            "fund_capital": (self.fund_capital > 0, "must be > 0 (万元)"),
            "coverage": (0 < self.coverage <= 1, "must be within (0, 1]"),
            "target_leverage": (self.target_leverage > 0, "must be > 0"),
            "macro_factor": (self.macro_factor > 0, "must be > 0"),
            "shock_factor": (self.shock_factor > 0, "must be > 0"),
        }
        for name, (ok, rule) in checks.items():
            if not ok:
                raise InvalidArgument(name, getattr(self, name), rule)
        for kind, lgd in self.lgd.items():
            if not 0 <= lgd <= 1:
                raise InvalidArgument(f"lgd[{kind!r}]", lgd, "must be within [0, 1]")

    def scenarios(self) -> dict[str, str]:
        return {
            "base": "as scored / 原始评分",
            "macro": f"all PDs × {self.macro_factor:g} / 全部 PD × {self.macro_factor:g}",
            "industry_shock": (
                f"PDs × {self.shock_factor:g} in {', '.join(self.shocked_industries)} "
                f"(2020-like export shock) / 出口冲击行业 PD × {self.shock_factor:g}"
            ),
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"lgd": dict(self.lgd), "scenarios": self.scenarios()}


def aggregate(
    results: pd.DataFrame, model: PDModel, params: PortfolioParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cells, stress) sums of one part's scored rows; both merge across parts by addition."""
    lgd = results["guarantee"].map(params.lgd)
    if lgd.isna().any():
        unknown = sorted(set(results["guarantee"][lgd.isna()]))
        raise InvalidArgument(
            "lgd", dict(params.lgd), f"gives no LGD for guarantee type(s) {unknown}"
        )
    pd_ = results["pd"].to_numpy(dtype=np.float64)
    amount = results["amount"].to_numpy(dtype=np.float64)
    loss_rate = lgd.to_numpy(dtype=np.float64) * amount
    frame = results[["product", "industry", "district", "guarantee", "grade", "decision"]].copy()
    frame["pd_bin"] = np.clip(np.searchsorted(PD_EDGES, pd_, side="right") - 1, 0, N_BINS - 1)
    frame["n"] = 1
    frame["amount"] = amount
    frame["pd_sum"] = pd_
    frame["el"] = pd_ * loss_rate
    cells = frame.groupby(CELL_KEYS, dropna=False, observed=True, as_index=False).sum()

    shocked = results["industry"].isin(params.shocked_industries).to_numpy()
    factors = {
        "base": np.ones(len(pd_)),
        "macro": np.full(len(pd_), params.macro_factor),
        "industry_shock": np.where(shocked, params.shock_factor, 1.0),
    }
    parts = []
    for scenario, factor in factors.items():
        stressed = np.minimum(pd_ * factor, 1.0)
        parts.append(
            pd.DataFrame(
                {
                    "scenario": scenario,
                    "product": results["product"].to_numpy(),
                    "decision": model.decide(stressed, results["product"].to_numpy()).astype(object)
                    if len(pd_)
                    else np.array([], dtype=object),
                    "n": 1,
                    "amount": amount,
                    "el": stressed * loss_rate,
                }
            )
        )
    stress = pd.concat(parts).groupby(STRESS_KEYS, as_index=False).sum()
    return cells, stress


def merge(tables: list[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    """Cells of many parts as one table (sums per key)."""
    tables = [t for t in tables if len(t)]
    if not tables:
        return pd.DataFrame(columns=[*keys, "n", "amount", "el"])
    return pd.concat(tables).groupby(keys, dropna=False, as_index=False).sum()


def report(cells: pd.DataFrame, stress: pd.DataFrame, params: PortfolioParams) -> dict[str, Any]:
    """The portfolio report as JSON-ready numbers (the HTML page renders exactly these)."""
    n = int(cells["n"].sum())
    approved = cells[cells["decision"] == "approve"]
    return {
        "params": params.to_dict(),
        "applications": n,
        "amount": float(cells["amount"].sum()),
        "decisions": _shares(cells, ["decision"]),
        "grades": _grade_table(cells),
        "pd_by_product": _pd_summary(cells, "product"),
        "pd_by_industry": _pd_summary(cells, "industry"),
        "expected_loss": {
            "total": float(cells["el"].sum()),
            "fund_share": float(params.coverage * cells["el"].sum()),
            "by_product": _sum_by(cells, "product", "el"),
            "by_guarantee": _sum_by(cells, "guarantee", "el"),
        },
        "concentration": {
            "industry": _concentration(approved, "industry"),
            "district": _concentration(approved, "district"),
        },
        "approve_band": _band(approved["amount"].sum(), approved["el"].sum(), params)
        | {"applications": int(approved["n"].sum())},
        "stress": _stress_table(stress, params),
    }


def _band(amount: float, el: float, params: PortfolioParams) -> dict[str, float | bool]:
    guaranteed = params.coverage * float(amount)
    fund_el = params.coverage * float(el)
    leverage = guaranteed / params.fund_capital
    return {
        "amount": float(amount),
        "guaranteed": guaranteed,
        "leverage": leverage,
        "meets_target_leverage": bool(leverage >= params.target_leverage),
        "expected_loss": float(el),
        "fund_expected_loss": fund_el,
        "expected_loss_to_capital": fund_el / params.fund_capital,
    }


def _shares(cells: pd.DataFrame, keys: list[str]) -> list[dict[str, Any]]:
    g = cells.groupby(keys, as_index=False)[["n", "amount", "el"]].sum()
    total = max(int(cells["n"].sum()), 1)
    g["share"] = g["n"] / total
    return _records(g)


def _grade_table(cells: pd.DataFrame) -> list[dict[str, Any]]:
    g = cells.groupby(["grade", "product"])["n"].sum().unstack("product", fill_value=0)
    g["all"] = g.sum(axis=1)
    pd_mean = cells.groupby("grade")["pd_sum"].sum() / cells.groupby("grade")["n"].sum()
    out = []
    for grade, row in g.sort_index().iterrows():
        item = {"grade": int(grade), **{str(k): int(v) for k, v in row.items()}}
        item["mean_pd"] = float(pd_mean[grade])
        out.append(item)
    return out


def _pd_summary(cells: pd.DataFrame, key: str) -> list[dict[str, Any]]:
    """Mean and quantiles (from the PD bins: the upper edge of the bin holding each quantile)."""
    out = []
    for value, group in cells.groupby(key):
        hist = np.bincount(group["pd_bin"], weights=group["n"], minlength=N_BINS)
        cum = np.cumsum(hist) / hist.sum()
        q = {
            f"p{int(p * 100)}": float(PD_EDGES[np.searchsorted(cum, p) + 1])
            for p in (0.1, 0.5, 0.9)
        }
        out.append(
            {
                key: value,
                "applications": int(group["n"].sum()),
                "mean_pd": float(group["pd_sum"].sum() / group["n"].sum()),
                **q,
                "histogram": hist.astype(int).tolist(),
            }
        )
    return out


def _sum_by(cells: pd.DataFrame, key: str, column: str) -> dict[str, float]:
    return {str(k): float(v) for k, v in cells.groupby(key)[column].sum().items()}


def _concentration(approved: pd.DataFrame, key: str, top: int = 10) -> dict[str, Any]:
    """Largest exposures of the approve band and the Herfindahl index of amount shares."""
    g = approved.groupby(key)[["n", "amount", "el"]].sum().sort_values("amount", ascending=False)
    total = float(g["amount"].sum())
    shares = g["amount"] / total if total else g["amount"] * 0
    g["share"] = shares
    return {
        "hhi": float((shares**2).sum()),
        "largest": _records(g.head(top).reset_index()),
    }


def _stress_table(stress: pd.DataFrame, params: PortfolioParams) -> list[dict[str, Any]]:
    out = []
    for scenario, label in params.scenarios().items():
        s = stress[stress["scenario"] == scenario]
        approved = s[s["decision"] == "approve"]
        out.append(
            {
                "scenario": scenario,
                "description": label,
                "expected_loss": float(s["el"].sum()),
                "approve_applications": int(approved["n"].sum()),
                **{
                    f"approve_{k}": v
                    for k, v in _band(
                        approved["amount"].sum(), approved["el"].sum(), params
                    ).items()
                },
            }
        )
    return out


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]
