"""Every servable contender keeps the registry's monotone directions, feature by feature.

The behaviour tests move raw records of a few hundred firms; this test sweeps each directed
feature over its observed values for a sample of OOT rows, all else fixed, and checks the
margin of the booster, the WoE scorecard and their blend never moves against the direction.
A contender that ignores a direction (a non-monotone WoE binning, a wrong-signed coefficient,
a booster whose constraint method lets a split slip) fails here whichever feature it is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.pd_model import PDModel
from training.baselines import ScorecardBaseline
from training.champion import candidates, champion_model
from training.fit import GBMFit

ROWS = 200
#: Values tried per feature: its observed quantiles (every value of an ordinal).
GRID = 25


@pytest.fixture(scope="module")
def contenders(small_fit) -> dict[str, PDModel]:
    data, fit = small_fit
    train = pd.DataFrame(fit.matrices["train"], columns=data.features)
    card = ScorecardBaseline(categorical=data.categorical, directions=data.directions)
    woe = card.fit(train, data.part("train")[1]).to_woe_scorecard(train)
    gbm = GBMFit(fit.model.booster, {}, fit.best_iteration, 0.0, np.nan, pd.DataFrame(), 0.0, 0.0)
    cands, notes = candidates(gbm, woe, fit.matrices, data.part("valid")[1])
    assert {"gbm", "scorecard", "blend"} <= set(cands), notes
    assert 0 < cands["blend"].blend_weight < 1
    return {c: champion_model(cands[c], fit.model.encoder, gbm, woe) for c in cands}


@pytest.mark.parametrize("kind", ["gbm", "scorecard", "blend"])
def test_no_contender_moves_against_a_registry_direction(small_fit, contenders, kind) -> None:
    data, fit = small_fit
    model = contenders[kind]
    X = fit.matrices["oot"][:ROWS]
    directed = {f: d for f, d in data.directions.items() if d != 0}
    assert len(directed) >= 20
    moved = 0
    for feature, direction in directed.items():
        j = data.features.index(feature)
        column = fit.matrices["train"][:, j]
        values = np.unique(np.nanquantile(column, np.linspace(0, 1, GRID)))
        margins = []
        for v in values:
            Xv = X.copy()
            Xv[:, j] = v
            margins.append(model.margin(Xv))
        steps = direction * np.diff(np.column_stack(margins), axis=1)
        worst = steps.min(initial=0.0)
        assert worst >= -1e-9, (
            f"{kind}: {feature} (direction {direction:+d}) moves the margin by {worst:.4g} "
            "against its direction"
        )
        moved += int(np.any(steps > 0))
    assert moved >= 5, "too few directed features move the margin: the sweep proves nothing"
