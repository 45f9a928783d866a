"""Credit-report and public-credit events: delinquency, enforcement, penalties, arrears."""

from __future__ import annotations

import numpy as np

from features.context import BuildContext
from features.families._arrays import DAYS_PER_MONTH, num
from features.pit import MISSING_DAY, EventStream

#: "Never overdue" reads as the longest time since an overdue, not as missing: a firm that
#: clears its only overdue must look better, and a monotone constraint cannot order NaN.
NO_OVERDUE_DAYS = 3_650.0


def kind_stream(ctx: BuildContext, kind: str | None) -> EventStream:
    """Events of one kind (``None``: all kinds), with days past due as a value."""

    def build() -> EventStream:
        day = ctx.days("credit_events", "event_on")
        if kind is not None:
            day = np.where(ctx.col("credit_events", "kind") == kind, day, MISSING_DAY)
        dpd = num(ctx.col("credit_events", "days_past_due"))
        return EventStream(
            ctx.firm_ids("credit_events"), day, dpd=dpd, dpd90=(dpd >= 90).astype(np.float64)
        )

    return ctx.stream(f"credit:{kind}", build)


def count(ctx: BuildContext, kind: str, window_days: int) -> np.ndarray:
    return ctx.memo(
        f"credit:{kind}:{window_days}", lambda: kind_stream(ctx, kind).count(ctx.q, window_days)
    )


def compute(ctx: BuildContext, done: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    q = ctx.q
    overdue = kind_stream(ctx, "overdue")
    return {
        "cr_overdue_count_24m": count(ctx, "overdue", 730),
        "cr_days_past_due_max_24m": np.nan_to_num(overdue.max("dpd", q, 730)),
        "cr_dpd90_count_36m": overdue.sum("dpd90", q, 1095),
        "cr_days_since_overdue": np.fmin(
            np.nan_to_num(overdue.days_since_last(q), nan=NO_OVERDUE_DAYS), NO_OVERDUE_DAYS
        ),
        "cr_dishonest_36m": count(ctx, "enforcement_dishonest", 1095),
        "cr_court_judgments_36m": count(ctx, "court_judgment", 1095),
        "cr_admin_penalties_36m": count(ctx, "admin_penalty", 1095),
        "cr_tax_arrears_24m": count(ctx, "tax_arrears", 730),
        "cr_utility_arrears_24m": count(ctx, "utility_arrears", 730),
        "cr_abnormal_operation_24m": count(ctx, "abnormal_operation", 730),
        "cr_loans_opened_24m": count(ctx, "loan_opened", 730),
        "cr_loans_repaid_24m": count(ctx, "loan_repaid", 730),
        "cr_file_months": (q.day - kind_stream(ctx, None).first_day(q)) / DAYS_PER_MONTH,
    }
