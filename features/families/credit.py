"""Credit-report and public-credit events: delinquency, enforcement, penalties, arrears."""

from __future__ import annotations

import numpy as np

from features.context import BuildContext
from features.families._arrays import DAYS_PER_MONTH, num
from features.families.windows import DAYS_24M, DAYS_36M
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
        "cr_overdue_count_24m": count(ctx, "overdue", DAYS_24M),
        "cr_days_past_due_max_24m": np.nan_to_num(overdue.max("dpd", q, DAYS_24M)),
        "cr_dpd90_count_36m": overdue.sum("dpd90", q, DAYS_36M),
        "cr_days_since_overdue": np.fmin(
            np.nan_to_num(overdue.days_since_last(q), nan=NO_OVERDUE_DAYS), NO_OVERDUE_DAYS
        ),
        "cr_dishonest_36m": count(ctx, "enforcement_dishonest", DAYS_36M),
        "cr_court_judgments_36m": count(ctx, "court_judgment", DAYS_36M),
        "cr_admin_penalties_36m": count(ctx, "admin_penalty", DAYS_36M),
        "cr_tax_arrears_24m": count(ctx, "tax_arrears", DAYS_24M),
        "cr_utility_arrears_24m": count(ctx, "utility_arrears", DAYS_24M),
        "cr_abnormal_operation_24m": count(ctx, "abnormal_operation", DAYS_24M),
        "cr_loans_opened_24m": count(ctx, "loan_opened", DAYS_24M),
        "cr_loans_repaid_24m": count(ctx, "loan_repaid", DAYS_24M),
        "cr_file_months": (q.day - kind_stream(ctx, None).first_day(q)) / DAYS_PER_MONTH,
    }
