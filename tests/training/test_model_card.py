"""The model card describes the champion actually chosen: booster, scorecard or blend."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.training.test_stages import QUICK, config_for
from training.champion import candidates, champion_model
from training.fit import fit_gbm
from training.model_card import render_model_card
from training.prepare import prepare

GRADES = pd.DataFrame(columns=["grade", "n", "defaults", "default_rate", "pd_mean"])


@pytest.fixture(scope="module")
def champions(tmp_path_factory):
    prepared = prepare(config_for(tmp_path_factory.mktemp("card"), 3_000, seed=4))
    d, m = prepared.data, prepared.matrices
    inputs = prepared.booster_inputs()
    gbm = fit_gbm(inputs, QUICK, None, max_depth=5)
    woe = prepared.scorecard.to_woe_scorecard(pd.DataFrame(m["train"], columns=d.features))
    cands, notes = candidates(gbm, woe, m, prepared.y("valid"))
    assert set(cands) == {"gbm", "scorecard", "blend"}, notes
    return {c: champion_model(cands[c], prepared.encoder, gbm, woe) for c in cands}


def _card(model) -> str:
    return render_model_card(
        model=model,
        name="bank-pd",
        window={},
        rows={},
        contenders={},
        per_product={},
        grades=GRADES,
        psi_score=0.0,
        data_warnings=[],
        excluded=[],
    )


def test_a_booster_champion_is_described_as_the_lightgbm_margin(champions) -> None:
    card = _card(champions["gbm"])
    assert "champion is the monotone-constrained LightGBM" in card and "TreeSHAP" in card
    assert "WoE" not in card.split("## Score scale")[1].split("| grade |")[0]


def test_a_scorecard_champion_is_not_described_as_lightgbm(champions) -> None:
    model = champions["scorecard"]
    card = _card(model)
    section = card.split("## Score scale")[1].split("| grade |")[0]
    assert "champion is the WoE logistic scorecard" in section
    assert f"({len(model.scorecard.terms)} features" in section
    assert "LightGBM" not in section and "TreeSHAP" not in section


def test_a_blended_champion_states_its_weight(champions) -> None:
    model = champions["blend"]
    card = _card(model)
    section = card.split("## Score scale")[1].split("| grade |")[0]
    assert f"weight w = {model.blend_weight:.2f}" in section
    assert f"1 − w = {1 - model.blend_weight:.2f}" in section
    assert "w · TreeSHAP + (1 − w) · WoE term" in section
