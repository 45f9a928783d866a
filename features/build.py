"""Assemble the feature frame: the one code path for training, batch scoring and requests.

``build_features`` takes the raw contract tables and the applications (each application's
``applied_on`` is its as-of date) and returns one row per application. The live service calls
it with one firm's records and one application; the batch paths call it with millions.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from features.context import BuildContext, Table
from features.families import (
    credit,
    financing,
    ip,
    policy,
    profile,
    rd_financials,
    staffing,
    support,
    tax,
)
from features.registry import FEATURE_NAMES

#: Policy comes last: it reads the columns of the families before it.
FAMILY_ORDER = (profile, ip, rd_financials, staffing, credit, tax, financing, support, policy)

#: Columns of the feature table besides the features (keys, slicing and the label).
META_COLUMNS = ("credit_code", "product", "applied_on", "default_12m")


def build_features(sources: Mapping[str, pd.DataFrame], applications: pd.DataFrame) -> pd.DataFrame:
    """Features of each application as of its ``applied_on``, indexed by ``loan_id``.

    Only rows known strictly before ``applied_on`` are used. Missing information stays NaN.
    """
    matrix = build_feature_matrix(sources, applications)
    index = pd.Index(np.asarray(applications["loan_id"]), name="loan_id")
    return pd.DataFrame(matrix, columns=list(FEATURE_NAMES), index=index)


def build_feature_matrix(sources: Mapping[str, Table], applications: Table) -> np.ndarray:
    """The same features as a float64 matrix (columns in ``FEATURE_NAMES`` order).

    The live service scores from this directly: no DataFrame is built on a request's path.
    """
    ctx = BuildContext(sources, applications)
    done: dict[str, np.ndarray] = {}
    for family in FAMILY_ORDER:
        done.update(family.compute(ctx, done))
    return np.column_stack([done[name] for name in FEATURE_NAMES]).astype(np.float64)


def build_feature_table(sources: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The training table: every application's features plus its key columns and label."""
    apps = sources["applications"]
    features = build_features(sources, apps)
    meta = apps.set_index("loan_id").reindex(features.index)
    meta = meta[[c for c in META_COLUMNS if c in meta.columns]]
    return pd.concat([meta, features], axis=1)


def coverage(features: pd.DataFrame) -> pd.Series:
    """Share of rows where each feature is known (not NaN): thin files show up here."""
    cols = [c for c in FEATURE_NAMES if c in features.columns]
    return features[cols].notna().mean().rename("coverage")
