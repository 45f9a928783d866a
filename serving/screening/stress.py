"""Stress by shocked records: change the firms' raw records the way a crisis did, then re-score.

A factor scenario multiplies PDs; a shocked-records scenario instead rewrites what the model
reads, so the stressed PD is the model's own answer. The 2020 export shock (seed 000: 受疫情
影响，部分外向型科创企业海外订单萎缩、账期拉长 … 营收同比下降一半) is declared in
``scenarios.toml``: for the exposed firms — a stable share (``exposed_share``) of the firms in
the chosen industries, standing for the export-oriented ones the contract does not flag — the
latest fiscal year they had filed before their latest application is rewritten:

- orders shrink: ``revenue`` and ``high_tech_revenue`` × ``revenue_factor``; costs follow
  only in part (``cost_total`` × ``cost_factor``) and ``net_profit`` falls by the difference;
- receivables lengthen by ``receivable_days_added`` days of (shocked) revenue: they sit in
  ``current_assets`` and ``total_assets`` and are cash the firm did not collect, so
  ``operating_cash_flow`` falls by as much.

The shocked tables go through the screening path (``part.screen_frames``: contract checks,
``features.build``, the packaged model) — this module writes records, never features. Only the
exposed firms are re-screened: every feature of a firm is computed from its own records, so
the others' answers cannot move (a test proves it on the full tables).
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.schemas import KNOWN_ON
from techrisk_base.errors import TechriskError


class ScenarioError(TechriskError, ValueError):
    """A scenario file or value breaks its rule (one line on the command line)."""


#: The scenarios shipped with techrisk (the 2020 export shock).
DEFAULT_SCENARIOS = Path(__file__).with_name("scenarios.toml")
_DAYS_PER_YEAR = 365.0


@dataclass(frozen=True)
class Shock:
    """One shocked-records scenario (see the module docstring for what each number does)."""

    name: str
    label_zh: str
    label_en: str
    industries: tuple[str, ...]
    exposed_share: float = 1.0
    revenue_factor: float = 0.5
    cost_factor: float = 1.0
    receivable_days_added: float = 0.0

    def __post_init__(self) -> None:
        checks = {
            "industries": (len(self.industries) > 0, "must name at least one industry"),
            "exposed_share": (0 < self.exposed_share <= 1, "must be within (0, 1]"),
            "revenue_factor": (0 <= self.revenue_factor <= 1, "must be within [0, 1]"),
            "cost_factor": (0 <= self.cost_factor <= 1, "must be within [0, 1]"),
            "receivable_days_added": (self.receivable_days_added >= 0, "must be ≥ 0"),
        }
        for key, (ok, rule) in checks.items():
            if not ok:
                raise ScenarioError(f"scenario {self.name!r}: {key}={getattr(self, key)!r} {rule}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"industries": list(self.industries)}


def load_shocks(path: Path) -> tuple[Shock, ...]:
    """The ``[scenario.<name>]`` tables of a TOML file, in file order."""
    try:
        declared = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("scenario", {})
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc})") from exc
    shocks = []
    for name, spec in declared.items():
        known = set(Shock.__dataclass_fields__) - {"name"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ScenarioError(
                f"{path}: scenario {name!r} has unknown key(s) {unknown}; known: {sorted(known)}"
            )
        missing = sorted({"industries", "label_zh", "label_en"} - set(spec))
        if missing:
            raise ScenarioError(f"{path}: scenario {name!r} is missing required key(s) {missing}")
        shocks.append(Shock(name=name, **(spec | {"industries": tuple(spec["industries"])})))
    return tuple(shocks)


def default_shocks() -> tuple[Shock, ...]:
    return load_shocks(DEFAULT_SCENARIOS)


def exposed(codes: pd.Series, industries: pd.Series, shock: Shock) -> np.ndarray:
    """Which firms the shock hits: in its industries and within its share by a stable hash.

    The hash of the credit code (not a random draw) keeps the same firms exposed in every part,
    run and machine.
    """
    in_industry = industries.isin(shock.industries).to_numpy()
    unit = np.array([_unit_hash(str(c), shock.name) for c in codes.to_numpy()])
    return in_industry & (unit < shock.exposed_share)


def shock_records(
    tables: Mapping[str, pd.DataFrame], shock: Shock
) -> dict[str, pd.DataFrame] | None:
    """The raw tables of the exposed firms only, with their records shocked (None if none).

    ``tables`` are a part's raw tables (``_row`` kept, so errors still point at input rows).
    """
    firms = tables.get("firms")
    if firms is None or len(firms) == 0:
        return None
    hit = exposed(firms["credit_code"], firms["industry"], shock)
    codes = set(firms["credit_code"][hit])
    if not codes:
        return None
    out = {  # a fresh RangeIndex, as screen_frames expects of a part's raw tables
        name: frame[frame["credit_code"].isin(codes)].reset_index(drop=True)
        for name, frame in tables.items()
        if "credit_code" in frame.columns
    }
    if "financials" in out and "applications" in out:
        out["financials"] = _shock_financials(out["financials"], out["applications"], shock)
    return out


def _shock_financials(fin: pd.DataFrame, apps: pd.DataFrame, shock: Shock) -> pd.DataFrame:
    """Rewrite, per firm, the latest fiscal year known before its latest application."""
    year = pd.to_numeric(fin["fiscal_year"], errors="coerce")
    applied = pd.to_datetime(apps["applied_on"], errors="coerce")
    last_applied = applied.groupby(apps["credit_code"].to_numpy()).max()
    dated = year.notna().to_numpy()
    known = pd.Series(pd.NaT, index=fin.index, dtype="datetime64[us]")
    known[dated] = (
        KNOWN_ON["financials"]
        .dates(pd.DataFrame({"fiscal_year": year[dated].astype(np.int64)}))
        .to_numpy()
    )
    before = known < fin["credit_code"].map(last_applied)
    candidates = year.where(before)
    latest = candidates.groupby(fin["credit_code"].to_numpy()).transform("max")
    target = (before & (candidates == latest)).to_numpy()
    if not target.any():
        return fin
    num = {
        c: pd.to_numeric(fin[c], errors="coerce")
        for c in (
            "revenue",
            "high_tech_revenue",
            "cost_total",
            "net_profit",
            "current_assets",
            "total_assets",
            "operating_cash_flow",
        )
        if c in fin.columns
    }
    revenue = num["revenue"] * shock.revenue_factor
    lost = num["revenue"] - revenue
    saved = num["cost_total"] * (1 - shock.cost_factor)
    receivables = revenue * shock.receivable_days_added / _DAYS_PER_YEAR
    new = {
        "revenue": revenue,
        "high_tech_revenue": num["high_tech_revenue"] * shock.revenue_factor,
        "cost_total": num["cost_total"] * shock.cost_factor,
        "net_profit": num["net_profit"] - lost + saved,
        "current_assets": num["current_assets"] + receivables,
        "total_assets": num["total_assets"] + receivables,
        "operating_cash_flow": num["operating_cash_flow"] - receivables,
    }
    for column, values in new.items():
        # a value that is not a number stays as it was: validation reports it, as in the base run
        rows = target & values.notna().to_numpy()
        if not rows.any():
            continue
        if pd.api.types.is_numeric_dtype(fin[column]):
            fin[column] = fin[column].astype(np.float64)
            fin.loc[rows, column] = values[rows]
        else:  # numbers read as text (CSV) stay text, for the contract to parse as before
            fin.loc[rows, column] = values[rows].map(lambda v: repr(float(v)))
    return fin


def _unit_hash(code: str, salt: str) -> float:
    digest = hashlib.blake2b(f"{salt}:{code}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2.0**64
