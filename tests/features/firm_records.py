"""A hand-made firm whose every feature value is known by construction (for rule tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.credit_code import generate_codes

CODE = str(generate_codes(1, np.random.default_rng(7))[0])
AS_OF = pd.Timestamp("2022-07-01")


def _dates(*values: str | None) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype=object))


def firm_sources(
    *,
    employees: int = 100,
    tech_staff: int = 30,
    revenue: float = 1_000.0,
    rd_expense: float = 60.0,
    cost_total: float = 900.0,
    total_assets: float = 2_000.0,
    class1: int = 0,
    class2: int = 0,
    cert_on: str | None = None,
    industry: str = "electronic_info",
) -> dict[str, pd.DataFrame]:
    """One firm, one application as of AS_OF, with the records the policy rules read."""
    firms = pd.DataFrame(
        {
            "credit_code": [CODE],
            "name": ["上海测试科技有限公司"],
            "founded_on": _dates("2015-03-01"),
            "registered_capital": [500.0],
            "industry": [industry],
            "district": ["pudong"],
            "is_high_tech": [cert_on is not None],
            "high_tech_cert_on": _dates(cert_on),
            "is_tech_sme": [False],
            "is_specialized": [False],
            "is_little_giant": [False],
            "is_listed": [False],
        }
    )
    n_ip = class1 + class2
    ip = pd.DataFrame(
        {
            "credit_code": [CODE] * n_ip,
            "ip_id": [f"IP{i}" for i in range(n_ip)],
            "ip_type": ["invention"] * class1 + ["utility_model"] * class2,
            "filed_on": _dates(*["2018-01-10"] * n_ip),
            "granted_on": _dates(*["2020-02-01"] * n_ip),
            "lapsed_on": _dates(*[None] * n_ip),
            "claims": [10.0] * n_ip,
            "forward_citations": [2.0] * n_ip,
            "acquired": [False] * n_ip,
            "pledged_on": _dates(*[None] * n_ip),
        }
    )
    financials = pd.DataFrame(
        {
            "credit_code": [CODE],
            "fiscal_year": [2021],
            "revenue": [revenue],
            "rd_expense": [rd_expense],
            "high_tech_revenue": [revenue * 0.7],
            "cost_total": [cost_total],
            "net_profit": [50.0],
            "total_assets": [total_assets],
            "total_liabilities": [total_assets * 0.5],
            "current_assets": [total_assets * 0.4],
            "current_liabilities": [total_assets * 0.3],
            "operating_cash_flow": [80.0],
        }
    )
    staffing = pd.DataFrame(
        {
            "credit_code": [CODE],
            "month": _dates("2022-05-01"),
            "employees": [employees],
            "rd_staff": [tech_staff // 2],
            "tech_staff": [tech_staff],
            "college_educated": [employees // 2],
            "social_insured": [employees],
        }
    )
    applications = pd.DataFrame(
        {
            "loan_id": ["L1"],
            "credit_code": [CODE],
            "product": ["xyd"],
            "applied_on": pd.Series([AS_OF]),
            "amount": [300.0],
            "term_months": [12],
            "guarantee": ["none"],
            "default_12m": [0.0],
        }
    )
    return {
        "firms": firms,
        "ip_assets": ip,
        "financials": financials,
        "staffing": staffing,
        "applications": applications,
    }
