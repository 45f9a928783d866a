"""Capital-constrained selection: which screened applications the fund can guarantee.

The candidates are the approve band (and, if asked, the review band) of a screening. The fund
takes a set of them such that, with ``g = coverage × amount`` the guaranteed amount and
``e = coverage × PD × LGD × amount`` the fund's expected loss of each loan:

- ``Σ g ≤ cap × capital`` (the regulatory leverage cap),
- ``Σ e ≤ loss_budget × capital`` (the fund's annual loss budget),
- per industry and per district, ``Σ g ≤ limit × cap × capital`` (concentration limits as
  shares of the guarantee capacity, so they are fixed amounts known before choosing),

maximising the guaranteed amount or the number of firms served. This is a multi-dimensional
knapsack; a greedy pass is used because it is fast on millions of rows and every decision has
a plain reason. Candidates are ranked by risk-adjusted value: the objective's value per unit of
the two scarce resources, ``v / (g / capacity + e / budget)`` — for the amount objective that
is the amount per unit of expected loss, with capital as a tie-breaker. In that order each
loan is taken if it fits every constraint. A loan left out therefore breaches at least one
constraint when added to the selected book (usage only grows), and those constraints are its
reasons. ``tests/serving/test_allocate.py`` measures the distance to the exact optimum of
``scipy.optimize.milp`` on small random instances.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog

from serving.screening.portfolio import PortfolioParams
from techrisk_base.errors import InvalidArgument, TechriskError

OBJECTIVES = ("amount", "firms")
#: Reason codes of a loan left out, in the order they are checked, with their words.
REASONS = {
    "capital": ("超出监管放大倍数上限下的担保能力", "guarantee capacity under the leverage cap"),
    "loss_budget": ("超出年度损失预算", "fund's annual loss budget"),
    "industry": ("超出行业集中度限额", "industry concentration limit"),
    "district": ("超出区域集中度限额", "district concentration limit"),
}
#: Columns a screened output must hold for selection.
#: Left-out loans offered a swap after the greedy fill (bounds the cost on large books).
SWAP_TRIES = 500
#: Largest book whose LP relaxation is solved whole to price the constraints (else a sample).
LP_SAMPLE = 5_000
REQUIRED = ("loan_id", "amount", "guarantee", "industry", "district", "pd", "decision")


@dataclass(frozen=True)
class AllocationParams:
    """Concentration limits (shares of the guarantee capacity), objective, bands considered."""

    industry_limit: float = 0.35
    district_limit: float = 0.25
    objective: str = "amount"
    include_review: bool = False

    def __post_init__(self) -> None:
        for name in ("industry_limit", "district_limit"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise InvalidArgument(name, value, "must be within (0, 1]")
        if self.objective not in OBJECTIVES:
            raise InvalidArgument("objective", self.objective, f"must be one of {OBJECTIVES}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Limits:
    """The constraint right-hand sides in 万元 (guaranteed amount, fund EL)."""

    capacity: float
    loss_budget: float
    per_industry: float
    per_district: float

    @classmethod
    def of(cls, fund: PortfolioParams, alloc: AllocationParams) -> Limits:
        capacity = fund.cap * fund.fund_capital
        return cls(
            capacity=capacity,
            loss_budget=fund.loss_budget * fund.fund_capital,
            per_industry=alloc.industry_limit * capacity,
            per_district=alloc.district_limit * capacity,
        )


def candidates(screened: pd.DataFrame, fund: PortfolioParams, alloc: AllocationParams):
    """The applications the fund may choose from, with ``guaranteed`` and ``fund_el`` added."""
    missing = [c for c in REQUIRED if c not in screened.columns]
    if missing:
        raise TechriskError(f"screened output: column(s) {missing} required for selection, missing")
    bands = ("approve", "review") if alloc.include_review else ("approve",)
    pool = screened[screened["decision"].isin(bands)].reset_index(drop=True)
    lgd = pool["guarantee"].map(fund.lgd)
    if lgd.isna().any():
        unknown = sorted(set(pool["guarantee"][lgd.isna()]))
        raise TechriskError(f"no LGD given for guarantee type(s) {unknown}; pass --lgd")
    amount = pool["amount"].to_numpy(dtype=np.float64)
    return pool.assign(
        guaranteed=fund.coverage * amount,
        fund_el=fund.coverage * pool["pd"].to_numpy(dtype=np.float64) * lgd.to_numpy() * amount,
    )


def select(
    screened: pd.DataFrame, fund: PortfolioParams, alloc: AllocationParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(selected, left_out): the chosen loans in rank order, and every other candidate with
    the constraints it would breach if added to the selected book."""
    pool = candidates(screened, fund, alloc)
    limits = Limits.of(fund, alloc)
    problem = _Problem.of(pool, limits, alloc.objective)
    static = ranking(problem.g, problem.e, limits, alloc.objective, pool["loan_id"].to_numpy())
    orders = [static]
    guided = problem.dual_order(static)
    if guided is not None:
        orders.append(guided)
    empty = np.zeros(len(pool), dtype=bool)
    fills = [problem.improve(problem.refill(empty, order), order) for order in orders]
    best = int(np.argmax([problem.value[taken].sum() for taken in fills]))
    taken, order = fills[best], orders[best]
    rank = np.empty(len(pool), dtype=np.int64)
    rank[order] = np.arange(1, len(pool) + 1)
    pool["rank"] = rank
    selected = pool[taken].sort_values("rank", ignore_index=True)
    left = pool[~taken].sort_values("rank", ignore_index=True)
    return selected, left.join(breaches(left, selected, limits))


@dataclass
class _Problem:
    """The knapsack in arrays: value, guaranteed, EL and group of each candidate."""

    value: np.ndarray
    g: np.ndarray
    e: np.ndarray
    industry: np.ndarray
    district: np.ndarray
    limits: Limits

    @classmethod
    def of(cls, pool: pd.DataFrame, limits: Limits, objective: str) -> _Problem:
        g = pool["guaranteed"].to_numpy()
        return cls(
            value=g if objective == "amount" else np.ones_like(g),
            g=g,
            e=pool["fund_el"].to_numpy(),
            industry=pd.factorize(pool["industry"].astype(str))[0],
            district=pd.factorize(pool["district"].astype(str))[0],
            limits=limits,
        )

    def improve(self, taken: np.ndarray, order: np.ndarray, tries: int = SWAP_TRIES) -> np.ndarray:
        """Swap a left-out loan in for a selected one where that gains value and fits.

        Greedy fills leave gaps when a large loan no longer fits after many small ones; the
        first ``tries`` left-out loans (in rank order) each get the best feasible swap, checked
        against every selected loan at once. The book is refilled after the swaps, so it stays
        maximal (every left-out loan breaches a constraint).
        """
        lim = self.limits
        taken = taken.copy()
        for j in order[~taken[order]][:tries].tolist():
            sel = np.flatnonzero(taken)
            if len(sel) == 0:
                break
            g_i, e_i = self.g[sel], self.e[sel]
            used_g, used_e = self.g[sel].sum(), self.e[sel].sum()
            same_ind = self.industry[sel] == self.industry[j]
            same_dis = self.district[sel] == self.district[j]
            ind_used = self.g[sel][same_ind].sum()
            dis_used = self.g[sel][same_dis].sum()
            gain = self.value[j] - self.value[sel]
            ok = (
                (gain > 0)
                & (used_g - g_i + self.g[j] <= lim.capacity)
                & (used_e - e_i + self.e[j] <= lim.loss_budget)
                & (ind_used - np.where(same_ind, g_i, 0.0) + self.g[j] <= lim.per_industry)
                & (dis_used - np.where(same_dis, g_i, 0.0) + self.g[j] <= lim.per_district)
            )
            if ok.any():
                out = sel[np.flatnonzero(ok)[np.argmax(gain[ok])]]
                taken[out], taken[j] = False, True
        return self.refill(taken, order)

    def refill(self, taken: np.ndarray, order: np.ndarray) -> np.ndarray:
        """Add, in ``order``, every left-out loan that fits beside the loans already taken.

        From an empty book this is the greedy fill itself.
        """
        lim = self.limits
        used_g, used_e = self.g[taken].sum(), self.e[taken].sum()
        used_ind = self._group_sums(self.industry, taken)
        used_dis = self._group_sums(self.district, taken)
        taken = taken.copy()
        for i in order[~taken[order]].tolist():
            gi, ei, k, d = self.g[i], self.e[i], self.industry[i], self.district[i]
            if (
                used_g + gi <= lim.capacity
                and used_e + ei <= lim.loss_budget
                and used_ind[k] + gi <= lim.per_industry
                and used_dis[d] + gi <= lim.per_district
            ):
                taken[i] = True
                used_g += gi
                used_e += ei
                used_ind[k] += gi
                used_dis[d] += gi
        return taken

    def _group_sums(self, group: np.ndarray, taken: np.ndarray) -> np.ndarray:
        # float even when nothing is taken (bincount of an empty array is an int array)
        sums = np.bincount(group[taken], self.g[taken], minlength=group.max(initial=-1) + 1)
        return sums.astype(np.float64)

    def dual_order(self, tie: np.ndarray) -> np.ndarray | None:
        """Candidates by value per unit of resource priced at the LP relaxation's duals.

        The classic primal–dual greedy for multi-dimensional knapsacks: the linear relaxation
        (HiGHS) prices each constraint by how much the objective would gain from a unit more
        of it, so a loan's cost is what it uses of the constraints that actually bind. None
        when the relaxation cannot be solved (the static ranking is then used alone).
        """
        n = len(self.g)
        if n == 0:
            return None
        # prices from a fixed sample of a large book, with the limits scaled to its share:
        # an estimate is enough for an order, and the full relaxation takes seconds per 100k
        rows_in = (
            np.sort(np.random.default_rng(0).choice(n, LP_SAMPLE, replace=False))
            if n > LP_SAMPLE
            else np.arange(n)
        )
        a = self._constraints(np.arange(n))[0]
        a_s, b_s = self._constraints(rows_in)
        res = linprog(
            -self.value[rows_in],
            A_ub=a_s,
            b_ub=b_s * len(rows_in) / n,
            bounds=(0, 1),
            method="highs",
        )
        if res.status != 0:
            return None
        price = -res.ineqlin.marginals
        cost = a.T @ price
        key = np.divide(self.value, cost, out=np.full(n, np.inf), where=cost > 0)
        return np.lexsort((tie, -key))

    def _constraints(self, rows_in: np.ndarray) -> tuple[sparse.csr_array, np.ndarray]:
        """(A, b) of ``A x ≤ b`` over the candidates ``rows_in``: capital, EL, groups."""
        n = len(rows_in)
        n_ind, n_dis = self.industry.max() + 1, self.district.max() + 1
        g, e = self.g[rows_in], self.e[rows_in]
        rows = np.concatenate(
            [
                np.zeros(n),
                np.ones(n),
                2 + self.industry[rows_in],
                2 + n_ind + self.district[rows_in],
            ]
        )
        a = sparse.csr_array(
            (np.concatenate([g, e, g, g]), (rows, np.tile(np.arange(n), 4))),
            shape=(2 + n_ind + n_dis, n),
        )
        lim = self.limits
        b = np.concatenate(
            [
                [lim.capacity, lim.loss_budget],
                np.full(n_ind, lim.per_industry),
                np.full(n_dis, lim.per_district),
            ]
        )
        return a, b


def ranking(
    g: np.ndarray, e: np.ndarray, limits: Limits, objective: str, tie: np.ndarray
) -> np.ndarray:
    """Candidate positions, best risk-adjusted value first (ties by loan id, for stability)."""
    value = g if objective == "amount" else np.ones_like(g)
    use = g / limits.capacity + e / limits.loss_budget
    key = np.divide(value, use, out=np.full_like(g, np.inf), where=use > 0)
    return np.lexsort((tie, -key))


def breaches(left: pd.DataFrame, selected: pd.DataFrame, limits: Limits) -> pd.DataFrame:
    """For each left-out loan, the constraints that adding it to ``selected`` would breach."""
    g, e = left["guaranteed"].to_numpy(), left["fund_el"].to_numpy()
    by_ind = selected.groupby("industry")["guaranteed"].sum()
    by_dis = selected.groupby("district")["guaranteed"].sum()
    hits = {
        "capital": selected["guaranteed"].sum() + g > limits.capacity,
        "loss_budget": selected["fund_el"].sum() + e > limits.loss_budget,
        "industry": left["industry"].map(by_ind).astype(float).fillna(0.0).to_numpy() + g
        > limits.per_industry,
        "district": left["district"].map(by_dis).astype(float).fillna(0.0).to_numpy() + g
        > limits.per_district,
    }
    codes = [";".join(k for k, hit in hits.items() if hit[i]) for i in range(len(left))]
    return pd.DataFrame(
        {
            "reasons": codes,
            "reason_zh": ["；".join(REASONS[c][0] for c in r.split(";") if c) for r in codes],
            "reason_en": ["; ".join(REASONS[c][1] for c in r.split(";") if c) for r in codes],
        },
        index=left.index,
    )
