"""The LightGBM estimator spec: hyper-parameters and how monotone directions become constraints.

Why these defaults: depth-limited trees (``max_depth=5``) keep exact TreeSHAP cheap enough for
every live request and for batch screening, at a small cost in AUC; ``min_child_samples`` is
large because defaults are rare (a leaf of 20 firms holds one default); the learning rate
with early stopping on the validation slice picks the number of trees. No class weights and no
resampling: they would distort the margin that the Platt map calibrates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_PARAMS: Mapping[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.03,
    "num_leaves": 24,
    "max_depth": 5,
    "min_child_samples": 200,
    "min_sum_hessian_in_leaf": 1.0,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 5.0,
    "cat_smooth": 20.0,
    "monotone_constraints_method": "advanced",
    "num_threads": 2,
    "deterministic": True,
    "force_row_wise": True,
    "verbosity": -1,
}


@dataclass(frozen=True)
class LGBMSpec:
    """What to fit: parameters, the tree budget, and early stopping on the validation slice."""

    params: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_PARAMS))
    num_boost_round: int = 3_000
    early_stopping_rounds: int = 150
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_boost_round < 1:
            raise ValueError(f"num_boost_round must be >= 1; got {self.num_boost_round}")
        if self.early_stopping_rounds < 1:
            raise ValueError(
                f"early_stopping_rounds must be >= 1; got {self.early_stopping_rounds}"
            )

    def lgb_params(
        self, features: Sequence[str], directions: Mapping[str, int], categorical: Sequence[str]
    ) -> dict[str, Any]:
        """LightGBM parameters with one monotone constraint per feature, in column order.

        Categorical features cannot be monotone; a direction given for one is an error, since
        silently dropping it would train a model the registry does not describe.
        """
        bad = [f for f in categorical if directions.get(f, 0) != 0]
        if bad:
            raise ValueError(f"categorical features cannot carry a monotone direction: {bad}")
        unknown = [d for d in directions.values() if d not in (-1, 0, 1)]
        if unknown:
            raise ValueError(f"monotone directions must be -1, 0 or +1; got {unknown}")
        return {
            **self.params,
            "seed": self.seed,
            "monotone_constraints": [int(directions.get(f, 0)) for f in features],
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": dict(self.params),
            "num_boost_round": self.num_boost_round,
            "early_stopping_rounds": self.early_stopping_rounds,
            "seed": self.seed,
        }
