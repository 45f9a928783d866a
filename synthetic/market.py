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
from synthetic.applications import assign_guarantees, draw_applications, pledge_patents
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
#: Registered capital in 万元: round amounts, drawn independently of everything (noise).
_CAPITAL_WAN = np.array([10, 50, 100, 200, 300, 500, 1_000, 2_000, 5_000, 10_000], dtype=float)
_CAPITAL_SHARES = np.array([0.05, 0.12, 0.2, 0.12, 0.1, 0.16, 0.14, 0.06, 0.04, 0.01])


def generate_market(n_firms: int = 100_000, seed: int = 0) -> dict[str, pd.DataFrame]:
    """The synthetic market of ``n_firms`` Shanghai tech SMEs, 2016–2024, deterministic in seed.

    Returns the nine contract tables (firms, ip_assets, financials, staffing, credit_events,
    tax_ratings, financing_rounds, support_records, applications) and ``truth`` (loan_id,
    true_pd), which only evaluation may read.
    """
    if n_firms < 1:
        raise InvalidArgument("n_firms", n_firms, "must be a positive integer")
    rng = dict(
        zip(
            _STEPS,
            (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(_STEPS))),
            strict=True,
        )
    )
    pop = draw_population(n_firms, rng["population"])
    codes = _credit_codes(pop, rng["codes"])
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
    apps["true_pd"] = outcomes.true_pd
    ip["pledged_on"] = pledge_patents(ip, apps, apps["guarantee"], rng["pledges"])
    ip["ip_id"] = np.char.add("IP", np.char.zfill(np.arange(len(ip["firm"])).astype(str), 9))
    firm, year, rating = tax_rows(outcomes.tax_grid)

    tables = {
        "firms": to_table("firms", _firm_rows(pop, quals, rng["firms"]), codes),
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


def _firm_rows(
    pop: Population, quals: Qualifications, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    return {
        "firm": np.arange(pop.n),
        "name": company_names(pop.n, rng),
        "founded_on": pop.founded,
        "registered_capital": rng.choice(_CAPITAL_WAN, size=pop.n, p=_CAPITAL_SHARES),
        "industry": np.array(INDUSTRIES)[pop.industry],
        "district": np.array(DISTRICTS)[pop.district],
        "is_high_tech": quals.is_high_tech,
        "high_tech_cert_on": quals.high_tech_cert_on,
        "is_tech_sme": quals.is_tech_sme,
        "is_specialized": quals.is_specialized,
        "is_little_giant": quals.is_little_giant,
        "is_listed": quals.is_listed,
    }
