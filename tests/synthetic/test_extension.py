"""A market observed later: same firms, entrants, continued records, maturing outcomes, shock."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthetic import generate_market, manifest
from synthetic.population import Shock
from techrisk.cli import main
from techrisk_base.errors import InvalidArgument

FIRMS, SEED, UNTIL = 1_500, 5, "2026-06-30"
SHOCKED = ("electronic_info", "advanced_manufacturing")


@pytest.fixture(scope="module")
def base() -> dict[str, pd.DataFrame]:
    return generate_market(FIRMS, SEED)


@pytest.fixture(scope="module")
def extended() -> dict[str, pd.DataFrame]:
    return generate_market(FIRMS, SEED, UNTIL)


@pytest.fixture(scope="module")
def shocked() -> dict[str, pd.DataFrame]:
    return generate_market(FIRMS, SEED, UNTIL, manifest.export_shock(SHOCKED))


def test_the_same_firms_age_and_entrants_join(base, extended) -> None:
    old, new = base["firms"], extended["firms"]
    same = ["credit_code", "name", "founded_on", "industry", "district", "registered_capital"]
    pd.testing.assert_frame_equal(new.head(len(old))[same], old[same])
    entrants = new.iloc[len(old) :]
    assert len(entrants) > 0
    assert (entrants["founded_on"] > pd.Timestamp("2024-12-31")).all()
    assert (entrants["founded_on"] <= pd.Timestamp(UNTIL)).all()
    assert new["credit_code"].is_unique


def test_records_and_applications_continue_to_the_new_end(extended) -> None:
    end = pd.Timestamp(UNTIL)
    apps = extended["applications"]
    assert apps["applied_on"].max() <= end
    assert (apps["applied_on"] > pd.Timestamp("2025-12-31")).sum() > 0
    assert extended["staffing"]["month"].max() == pd.Timestamp("2026-06-01")
    assert extended["financials"]["fiscal_year"].max() == 2025
    assert extended["credit_events"]["event_on"].max() <= end
    assert extended["credit_events"]["event_on"].max() > pd.Timestamp("2025-12-31")


def test_an_outcome_is_known_only_after_its_12_months(base, extended) -> None:
    apps = extended["applications"]
    matured = apps["applied_on"] + pd.DateOffset(months=12) <= pd.Timestamp(UNTIL)
    assert apps.loc[matured, "default_12m"].notna().all()
    assert apps.loc[~matured, "default_12m"].isna().all()
    assert (~matured).sum() > 0 and (matured & (apps["applied_on"].dt.year == 2025)).sum() > 0
    # the base market (observed at its window end) keeps labelling every application
    assert base["applications"]["default_12m"].notna().all()


def test_an_extension_is_deterministic_for_its_seed(extended) -> None:
    again = generate_market(FIRMS, SEED, UNTIL)
    for name, table in extended.items():
        pd.testing.assert_frame_equal(again[name], table)


def test_the_export_shock_shows_in_the_exposed_firms_records(extended, shocked) -> None:
    """Same firms, same draws of records: only the shock differs between the two worlds."""

    def by_exposure(tables: dict[str, pd.DataFrame], table: str) -> pd.DataFrame:
        rows = tables[table].merge(tables["firms"][["credit_code", "industry"]], on="credit_code")
        return rows.assign(exposed=rows["industry"].isin(SHOCKED))

    def overdues_2025(tables: dict[str, pd.DataFrame]) -> pd.Series:
        ev = by_exposure(tables, "credit_events")
        ev = ev[(ev["kind"] == "overdue") & (ev["event_on"].dt.year == 2025)]
        return ev.groupby("exposed").size()

    def revenue_fy2025(tables: dict[str, pd.DataFrame]) -> pd.Series:
        fin = by_exposure(tables, "financials")
        return fin[fin["fiscal_year"] == 2025].groupby("exposed")["revenue"].sum()

    overdue_rise = overdues_2025(shocked) / overdues_2025(extended)
    assert overdue_rise[True] > 1.5
    assert overdue_rise[True] > overdue_rise[False] + 0.5
    revenue_change = revenue_fy2025(shocked) / revenue_fy2025(extended)
    assert revenue_change[True] < 0.95
    assert revenue_change[False] > 0.97


def test_bad_extensions_are_refused() -> None:
    spec = manifest.MarketSpec(FIRMS, SEED)
    with pytest.raises(InvalidArgument, match="extend_to"):
        manifest.extended(spec, "2024-06-30")
    with pytest.raises(InvalidArgument, match="shock_industries"):
        Shock(("ironmongery",), ((2025, 0.9),))
    with pytest.raises(InvalidArgument, match="shock"):
        generate_market(50, 0, shock=manifest.export_shock())


def test_generate_extend_to_reads_the_manifest_and_writes_the_later_market(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    market = tmp_path / "market"
    assert main(["generate", "--firms", "300", "--seed", "2", "--out", str(market)]) == 0
    assert manifest.read(market) == manifest.MarketSpec(300, 2)
    later = tmp_path / "later"
    argv = ["generate", "--market", str(market), "--out", str(later), "--extend-to", UNTIL]
    assert main([*argv, "--shock", "export", "--shock-industries", "bio_medicine"]) == 0
    spec = manifest.read(later)
    assert spec.until == UNTIL and spec.shock == manifest.export_shock(("bio_medicine",))
    apps = pd.read_parquet(later / "applications.parquet")
    assert apps["default_12m"].isna().any()
    capsys.readouterr()
    assert main(["generate", "--market", str(tmp_path / "none"), "--extend-to", UNTIL]) == 2
    assert "market.json" in capsys.readouterr().err
    assert main(["generate", "--shock", "export", "--out", str(tmp_path / "x")]) == 2
    assert np.all(pd.read_parquet(market / "applications.parquet")["default_12m"].notna())
