"""IP portfolio: what a tech SME owns instead of collateral.

Each IP row yields dated events: filed, granted, lapsed, pledged and citations-known (the
3-year citation count becomes known 3 years after grant). Valid rights as of D are grants
before D minus lapses before D, so a lapse dated on/after D never counts.
"""

from __future__ import annotations

import numpy as np

from features.context import BuildContext
from features.families._arrays import isin, num, ratio
from features.families.windows import DAYS_24M, DAYS_36M
from features.pit import MISSING_DAY, EventStream
from features.timing import value_known_days

CLASS1 = ("invention", "ic_layout")  # 科技型中小企业评价 class-I rights in our contract
CLASS2 = ("utility_model", "design", "software_copyright")
PATENTS = ("invention", "utility_model", "design")
FILED = ("invention", "ic_layout", "utility_model", "design", "software_copyright")
#: "Never filed" reads as the longest gap since a filing (10 years), for the same reason.
NO_FILING_DAYS = 3_650.0


def _streams(ctx: BuildContext) -> dict[str, EventStream]:
    def build() -> dict[str, EventStream]:
        ip_type = ctx.col("ip_assets", "ip_type")
        firm = ctx.firm_ids("ip_assets")
        class1 = isin(ip_type, CLASS1)
        patent = isin(ip_type, PATENTS)
        kinds = {
            "class1": class1,
            "class2": isin(ip_type, CLASS2),
            "utility": isin(ip_type, ("utility_model",)),
            "software": isin(ip_type, ("software_copyright",)),
            "trademark": isin(ip_type, ("trademark",)),
            "patent": patent,
        }
        granted = ctx.days("ip_assets", "granted_on")
        citations_known = value_known_days(
            "ip_assets", "forward_citations", {"granted_on": granted}
        )
        return {
            "filed": EventStream(
                firm,
                np.where(isin(ip_type, FILED) > 0, ctx.days("ip_assets", "filed_on"), MISSING_DAY),
                class1=class1,
            ),
            "granted": EventStream(
                firm,
                granted,
                **kinds,
                claims=np.where(class1 > 0, num(ctx.col("ip_assets", "claims")), np.nan),
                acquired=np.where(patent > 0, num(ctx.col("ip_assets", "acquired")), np.nan),
            ),
            "lapsed": EventStream(firm, ctx.days("ip_assets", "lapsed_on"), **kinds),
            "pledged": EventStream(firm, ctx.days("ip_assets", "pledged_on")),
            "cited": EventStream(
                firm,
                np.where(patent > 0, citations_known, MISSING_DAY),
                citations=num(ctx.col("ip_assets", "forward_citations")),
            ),
        }

    return ctx.memo("ip_streams", build)


def valid_count(ctx: BuildContext, kind: str) -> np.ndarray:
    s = _streams(ctx)
    return s["granted"].sum(kind, ctx.q) - s["lapsed"].sum(kind, ctx.q)


def compute(ctx: BuildContext, done: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    s = _streams(ctx)
    q = ctx.q
    filed_class1 = s["filed"].sum("class1", q)
    days_since = q.day - s["filed"].last("day", q)
    return {
        "ip_class1_valid": valid_count(ctx, "class1"),
        "ip_utility_valid": valid_count(ctx, "utility"),
        "ip_software_copyrights": valid_count(ctx, "software"),
        "ip_class2_valid": valid_count(ctx, "class2"),
        "ip_trademarks": valid_count(ctx, "trademark"),
        "ip_invention_filings_24m": s["filed"].sum("class1", q, DAYS_24M),
        "ip_lapsed_24m": s["lapsed"].sum("patent", q, DAYS_24M),
        "ip_lapse_ratio": _or_zero(
            ratio(s["lapsed"].sum("patent", q), s["granted"].sum("patent", q))
        ),
        "ip_citations_per_patent": _or_zero(s["cited"].mean("citations", q)),
        "ip_claims_mean": _or_zero(s["granted"].mean("claims", q)),
        "ip_acquired_share": _or_zero(s["granted"].mean("acquired", q)),
        "ip_pledges_36m": s["pledged"].count(q, DAYS_36M),
        "ip_invention_grant_rate": _or_zero(ratio(s["granted"].sum("class1", q), filed_class1)),
        "ip_days_since_filing": np.fmin(
            np.nan_to_num(days_since, nan=NO_FILING_DAYS), NO_FILING_DAYS
        ),
    }


def _or_zero(values: np.ndarray) -> np.ndarray:
    """A portfolio ratio of an empty portfolio is 0, not missing.

    The IP table is complete by contract (no rows = no rights), so 'no patents' is known,
    and reading it as 0 keeps the monotone constraints in force: a firm's first patent must
    move its features along their directions, never from NaN (which a constraint cannot
    order) to a value.
    """
    return np.nan_to_num(values, nan=0.0)
