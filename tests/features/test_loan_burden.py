"""The loan's burden on revenue: amount applied for over the latest revenue known at D."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.build import build_features
from tests.features.firm_records import firm_sources


def _burden(sources: dict[str, pd.DataFrame]) -> float:
    return float(build_features(sources, sources["applications"])["fin_loan_to_revenue"].iloc[0])


def test_amount_over_the_latest_known_revenue() -> None:
    sources = firm_sources(revenue=1_000.0)
    assert _burden(sources) == 300.0 / 1_000.0


def test_a_report_not_yet_filed_at_d_does_not_count() -> None:
    sources = firm_sources(revenue=1_000.0)
    fy2021 = sources["financials"]
    fy2022 = fy2021.assign(fiscal_year=2022, revenue=10.0)  # filed in 2023, after D
    sources["financials"] = pd.concat([fy2021, fy2022], ignore_index=True)
    assert _burden(sources) == 300.0 / 1_000.0


def test_missing_without_a_positive_revenue_on_file() -> None:
    assert np.isnan(_burden(firm_sources(revenue=0.0)))
    sources = firm_sources()
    sources["financials"] = sources["financials"].iloc[0:0]
    assert np.isnan(_burden(sources))
