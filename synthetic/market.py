"""Generate the synthetic market: the nine contract tables plus ``truth``, and write them.

The order follows the story: latent firms → accounts → staffing, IP, credit file, tax
ratings, equity rounds → qualifications → support → applications → labels (which write
their consequences back into the credit file and tax ratings). Each step draws from its own
random stream spawned from the seed, so a change in one step leaves the others' draws alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.credit_code import generate_codes
from features.schemas import RATINGS
from features.schemas import TABLES as SCHEMAS
from features.timing import value_known_days
from synthetic import calibration as cal
from synthetic.applications import assign_guarantees, draw_applications, pledge_patents
from synthetic.dates import BASE_END, DAYS_PER_YEAR, day, observed_until, window_end
from synthetic.financials import draw_accounts, financials_rows
from synthetic.financing import round_rows
from synthetic.ip import ip_rows
from synthetic.names import company_names
from synthetic.outcomes import label_applications, tax_rows
from synthetic.population import (
    DISTRICT_DIVISIONS,
    DISTRICTS,
    INDUSTRIES,
    Population,
    Shock,
    concat_populations,
    draw_population,
)
from synthetic.public_credit import credit_event_rows, tax_rating_grid
from synthetic.qualifications import Qualifications, qualify
from synthetic.staffing import staffing_rows
from synthetic.support import support_rows
from synthetic.tables import to_table
from synthetic.truth import AsOfRecords
from techrisk_base.errors import InvalidArgument

TABLES = tuple(SCHEMAS)
_STEPS = (
    "population",
    "codes",
    "firms",
    "accounts",
    "financials",
    "staffing",
    "ip",
    "credit",
    "tax",
    "rounds",
    "qualifications",
    "support",
    "applications",
    "guarantees",
    "labels",
    "pledges",
)
#: Streams used only by a market observed past the base window (spawned after _STEPS, so the
#: base market's draws are untouched): later years' health, the shock, and the entrants.
_EXTENSION_STEPS = ("extension", "entrants", "entrant_codes", "entrant_firms")
#: Registered capital in 万元: round amounts, drawn independently of everything (noise).
_CAPITAL_WAN = np.array([10, 50, 100, 200, 300, 500, 1_000, 2_000, 5_000, 10_000], dtype=float)
_CAPITAL_SHARES = np.array([0.05, 0.12, 0.2, 0.12, 0.1, 0.16, 0.14, 0.06, 0.04, 0.01])


def generate_market(
    n_firms: int = 100_000, seed: int = 0, until: str | None = None, shock: Shock | None = None
) -> dict[str, pd.DataFrame]:
    """The synthetic market of ``n_firms`` Shanghai tech SMEs, 2016–2024, deterministic in seed.

    Returns the nine contract tables (firms, ip_assets, financials, staffing, credit_events,
    tax_ratings, financing_rounds, support_records, applications) and ``truth`` (loan_id,
    true_pd), which only evaluation may read.

    ``until`` (an ISO date after 2024-12-31) observes the same world later: the same firms
    (codes, names, traits, health through 2024) age, entrants founded after 2024 join at the
    base market's yearly founding rate, records and applications run to ``until``, and an
    application's default is known only once its 12 months are over (later ones are
    unlabelled). ``shock`` takes health from the exposed firms in its years.
    """
    if n_firms < 1:
        raise InvalidArgument("n_firms", n_firms, "must be a positive integer")
    end = BASE_END if until is None else day(until)
    if end < BASE_END:
        raise InvalidArgument("until", until, f"must be on or after {cal.WINDOW_END}")
    if shock is not None and end == BASE_END:
        raise InvalidArgument("shock", shock.industries, "needs a window past the base end")
    steps = (*_STEPS, *_EXTENSION_STEPS)
    rng = dict(
        zip(
            steps,
            (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(steps))),
            strict=True,
        )
    )
    with observed_until(end):
        return _generate(n_firms, rng, shock)


def _generate(
    n_firms: int, rng: dict[str, np.random.Generator], shock: Shock | None
) -> dict[str, pd.DataFrame]:
    extended = window_end() > BASE_END
    pop = draw_population(n_firms, rng["population"], rng["extension"], shock)
    codes = _credit_codes(pop, rng["codes"])
    names_rng = [(n_firms, rng["firms"])]
    if extended:
        entrants = draw_population(
            _entrant_count(pop),
            rng["entrants"],
            rng["extension"],
            shock,
            founded_between=(BASE_END + 1, window_end()),
        )
        codes = np.concatenate([codes, _new_codes(entrants, codes, rng["entrant_codes"])])
        names_rng.append((entrants.n, rng["entrant_firms"]))
        pop = concat_populations(pop, entrants)
    accounts = draw_accounts(pop, rng["accounts"])
    financials = financials_rows(pop, accounts, rng["financials"])
    staffing = staffing_rows(pop, rng["staffing"])
    ip = ip_rows(pop, rng["ip"])
    base_events, adverse_counts = credit_event_rows(pop, accounts, rng["credit"])
    tax_grid = tax_rating_grid(pop, accounts, adverse_counts, rng["tax"])
    rounds = round_rows(pop, rng["rounds"])
    quals = qualify(pop, accounts, ip, rounds, adverse_counts, rng["qualifications"])
    support = support_rows(pop, accounts, quals, rng["support"])

    apps = draw_applications(pop, rounds, rng["applications"])
    records = AsOfRecords(
        pop, financials, staffing, ip, rounds, support, base_events, tax_rows(tax_grid)
    )
    apps["guarantee"] = assign_guarantees(
        apps["product"],
        records.pledgeable_patents(apps["firm"], apps["applied_on"]),
        rng["guarantees"],
    )
    outcomes = label_applications(apps, records, base_events, tax_grid, rng["labels"])
    apps["default_12m"] = outcomes.default_12m.astype(np.int64)
    if extended:
        known_on = value_known_days("applications", "default_12m", apps)
        apps["default_12m"] = np.where(known_on <= window_end(), apps["default_12m"], np.nan)
    apps["true_pd"] = outcomes.true_pd
    ip["pledged_on"] = pledge_patents(ip, apps, apps["guarantee"], rng["pledges"])
    ip["ip_id"] = np.char.add("IP", np.char.zfill(np.arange(len(ip["firm"])).astype(str), 9))
    firm, year, rating = tax_rows(outcomes.tax_grid)

    tables = {
        "firms": to_table("firms", _firm_rows(pop, quals, names_rng), codes),
        "ip_assets": to_table("ip_assets", ip, codes),
        "financials": to_table("financials", financials, codes),
        "staffing": to_table("staffing", staffing, codes),
        "credit_events": to_table("credit_events", outcomes.credit_events, codes),
        "tax_ratings": to_table(
            "tax_ratings",
            {"firm": firm, "year": year, "rating": np.array(RATINGS)[rating]},
            codes,
        ),
        "financing_rounds": to_table("financing_rounds", rounds, codes),
        "support_records": to_table("support_records", support, codes),
        "applications": to_table("applications", apps, codes),
        "truth": to_table("truth", apps, codes),
    }
    return tables


def write_market(tables: dict[str, pd.DataFrame], out_dir: Path) -> dict[str, Path]:
    """Write each table to ``out_dir/<table>.parquet``; returns the paths by table name."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in tables.items():
        paths[name] = out_dir / f"{name}.parquet"
        frame.to_parquet(paths[name], index=False)
    return paths


def _credit_codes(pop: Population, rng: np.random.Generator) -> np.ndarray:
    """Valid, distinct credit codes whose division code is the firm's district."""
    codes = np.empty(pop.n, dtype="U18")
    for k, district in enumerate(DISTRICTS):
        rows = np.nonzero(pop.district == k)[0]
        if len(rows):
            codes[rows] = generate_codes(len(rows), rng, [DISTRICT_DIVISIONS[district]])
    return codes


def _entrant_count(pop: Population) -> int:
    """Entrants over the extension: as many per year as base firms founded in its last year."""
    per_year = int(np.sum(pop.founded > BASE_END - DAYS_PER_YEAR))
    return max(round(per_year * (window_end() - BASE_END) / DAYS_PER_YEAR), 1)


def _new_codes(pop: Population, taken: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Credit codes for entrants, redrawn until none repeats an existing one."""
    codes = _credit_codes(pop, rng)
    while True:
        clash = np.isin(codes, taken) | pd.Series(codes).duplicated().to_numpy()
        if not clash.any():
            return codes
        redrawn = _credit_codes(pop, rng)
        codes[clash] = redrawn[clash]


def _firm_rows(
    pop: Population,
    quals: Qualifications,
    streams: list[tuple[int, np.random.Generator]],
) -> dict[str, np.ndarray]:
    """Firm rows; names and capital of each block of firms (base, entrants) from its stream,
    so the base firms keep theirs when entrants join."""
    names, capital = [], []
    for n, rng in streams:
        names.append(company_names(n, rng))
        capital.append(rng.choice(_CAPITAL_WAN, size=n, p=_CAPITAL_SHARES))
    return {
        "firm": np.arange(pop.n),
        "name": np.concatenate(names),
        "founded_on": pop.founded,
        "registered_capital": np.concatenate(capital),
        "industry": np.array(INDUSTRIES)[pop.industry],
        "district": np.array(DISTRICTS)[pop.district],
        "is_high_tech": quals.is_high_tech,
        "high_tech_cert_on": quals.high_tech_cert_on,
        "is_tech_sme": quals.is_tech_sme,
        "is_specialized": quals.is_specialized,
        "is_little_giant": quals.is_little_giant,
        "is_listed": quals.is_listed,
    }
