"""What a written market was generated from (``market.json`` beside its tables).

A market is a function of its firm count, seed, observation end and shock, so the manifest
is all ``techrisk generate --extend-to`` needs to observe the same world later.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pandas as pd

from synthetic import calibration as cal
from synthetic.market import generate_market, write_market
from synthetic.population import EXPORT_INDUSTRIES, EXPORT_SHOCK, Shock
from techrisk_base.errors import InvalidArgument

MANIFEST = "market.json"


@dataclass(frozen=True)
class MarketSpec:
    n_firms: int
    seed: int
    until: str = cal.WINDOW_END
    shock: Shock | None = None

    def generate(self) -> dict[str, pd.DataFrame]:
        return generate_market(self.n_firms, self.seed, self.until, self.shock)

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        if self.shock is not None:
            out["shock"] = {
                "industries": list(self.shock.industries),
                "loss_by_year": {str(y): v for y, v in self.shock.loss_by_year},
            }
        return out


def export_shock(
    industries: tuple[str, ...] = EXPORT_INDUSTRIES, first_year: int | None = None
) -> Shock:
    """A 2020-like export-order shock: the 2020/2021 health losses moved to ``first_year``
    (default: the first year after the base window) and the year after."""
    start = int(cal.WINDOW_END[:4]) + 1 if first_year is None else first_year
    losses = tuple(EXPORT_SHOCK.values())
    return Shock(tuple(industries), tuple((start + k, loss) for k, loss in enumerate(losses)))


def write(spec: MarketSpec, tables: dict[str, pd.DataFrame], out_dir: Path) -> dict[str, Path]:
    """The tables as Parquet plus the manifest."""
    paths = write_market(tables, out_dir)
    paths["manifest"] = Path(out_dir) / MANIFEST
    paths["manifest"].write_text(json.dumps(spec.to_dict(), indent=2) + "\n", encoding="utf-8")
    return paths


def read(market_dir: Path) -> MarketSpec:
    """The spec of a market written by ``techrisk generate``."""
    path = Path(market_dir) / MANIFEST
    if not path.exists():
        raise InvalidArgument(
            "market", str(market_dir), f"must hold {MANIFEST} (written by techrisk generate)"
        )
    raw = json.loads(path.read_text(encoding="utf-8"))
    shock = raw.get("shock")
    return MarketSpec(
        n_firms=int(raw["n_firms"]),
        seed=int(raw["seed"]),
        until=str(raw["until"]),
        shock=None
        if shock is None
        else Shock(
            tuple(shock["industries"]),
            tuple((int(y), float(v)) for y, v in shock["loss_by_year"].items()),
        ),
    )


def extended(spec: MarketSpec, until: str, shock: Shock | None = None) -> MarketSpec:
    """The same world observed until a later day, with the shock if one is given (an earlier
    extension's shock stays)."""
    if until <= spec.until:
        raise InvalidArgument("extend_to", until, f"must be after the market's end {spec.until}")
    return replace(spec, until=until, shock=shock or spec.shock)
