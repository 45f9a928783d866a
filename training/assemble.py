"""Stage 5 of a run: give the champion its peer cohorts, reason texts and facts.

Cohort percentiles and reason references are computed from the training population on the
champion's own PD scale, so they are fitted after the champion is chosen.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from features.registry import FAMILIES, REGISTRY
from models.pd_model import CohortColumns, PDModel
from models.reasons import FeatureMeta, ReasonBuilder, industry_medians
from models.reference import DriftReference

#: Our feature table's cohort columns; a bank's table without them gets no percentiles.
COHORT_COLUMNS = CohortColumns(
    industry="firm_industry",
    revenue="fin_revenue",
    employees="staff_employees",
    age_years="firm_age_years",
)


def reason_builder(features: list[str], X_train: np.ndarray) -> ReasonBuilder:
    """Labels and references for reason texts, from the registry and the training rows."""
    meta = {
        f: FeatureMeta(
            REGISTRY[f].family,
            REGISTRY[f].zh,
            REGISTRY[f].en,
            REGISTRY[f].unit,
            REGISTRY[f].labels,
            REGISTRY[f].direction,
            text=REGISTRY[f].text,
            long_text=REGISTRY[f].long_text,
            cap=REGISTRY[f].cap,
            label_texts=REGISTRY[f].label_texts,
        )
        for f in features
        if f in REGISTRY
    }
    industry = COHORT_COLUMNS.industry if COHORT_COLUMNS.industry in features else None
    return ReasonBuilder(
        features=features,
        meta=meta,
        families=FAMILIES,
        references=industry_medians(X_train, features, industry),
        industry_feature=industry,
    )


def assemble(
    model: PDModel,
    X_train: np.ndarray,
    pd_train: np.ndarray,
    info: dict[str, Any],
    products_train: np.ndarray | None = None,
) -> PDModel:
    """Cohorts (when the table has the cohort columns), reasons, the drift reference (per
    product when the table has products) and ``info``, in place."""
    if all(c in model.features for c in vars(COHORT_COLUMNS).values()):
        model.fit_cohorts(X_train, pd_train, COHORT_COLUMNS)
    model.reasons = reason_builder(model.features, X_train)
    score_train = model.scale.score(pd_train)
    model.reference = DriftReference.fit(X_train, model.features, score_train, products_train)
    model.info = info
    return model
