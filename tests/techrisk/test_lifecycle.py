"""The retraining loop on a small market: extend → retrain (gates) → promote / roll back.

One base market is trained once (the champion); the same world observed 18 months later
gives the table each challenger is trained on. Every move of ``@champion`` must leave a
registry tag and an audit-store row.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from mlflow import MlflowClient

from features.build import build_feature_table
from features.loaders import load_sources
from features.store import write_feature_table
from models.packaging import load_pd_model
from models.spec import LGBMSpec
from serving.promotions import PromotionStore
from synthetic import manifest
from techrisk.cli import main
from tests.conftest import QUICK_SPEC, environment, mlflow_env
from training.config import TrainConfig
from training.run import train

pytestmark = pytest.mark.slow
NAME = "techrisk-pd"
GATES = ("auc_non_inferior", "ece", "grades_monotone", "score_psi", "feature_coverage")
#: Thresholds every challenger meets: the test of the promotion mechanics, not of a model.
LOOSE = [
    "auc_tolerance=1",
    "ece_max=1",
    "grade_min_rows=1000000",
    "psi_max=1000",
    "coverage_drop_max=1",
    "product_auc_tolerance=1",
]


def _table(market: Path, out: Path) -> Path:
    write_feature_table(build_feature_table(load_sources(market)), out)
    return out


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("loop")
    env = {
        **mlflow_env(root),
        "TECHRISK_VAR": str(root / "var"),
        "TECHRISK_DATABASE_URL": f"sqlite:///{root / 'audit.db'}",
    }
    spec = manifest.MarketSpec(n_firms=4_000, seed=11)
    with environment(env):
        manifest.write(spec, spec.generate(), root / "base")
        config = TrainConfig(path=_table(root / "base", root / "base.parquet"))
        config = config.with_overrides(model=replace(config.model, tune_seconds=0))
        champion = train(config, LGBMSpec(**QUICK_SPEC))
        later = manifest.extended(spec, "2026-06-30")
        manifest.write(later, later.generate(), root / "later")
        table = _table(root / "later", root / "later.parquet")
    return {"env": env, "table": table, "champion": champion.model_version}


def _aliases() -> dict[str, str]:
    return {k: str(v) for k, v in MlflowClient().get_registered_model(NAME).aliases.items()}


def _retrain(loop: dict[str, object], *extra: str) -> int:
    argv = ["retrain", "--table", str(loop["table"]), "--tune-trials", "0", *extra]
    return main(argv)


def test_a_failed_gate_is_named_with_value_and_threshold_and_moves_nothing(
    loop: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    with environment(loop["env"]):
        assert _retrain(loop, "--gate", "psi_max=0", "--gate", "ece_max=0") == 2
        out, err = capsys.readouterr()
        assert "challenger not promoted; failed gate(s):" in err
        assert re.search(r"ece value 0\.\d{4} vs threshold 0\.0000", err)
        assert re.search(r"score_psi value 0\.\d{4} vs threshold 0\.0000", err)
        for gate in (*GATES, "product_auc"):
            assert gate in out
        assert _aliases()["champion"] == loop["champion"]
        challenger = _aliases()["challenger"]
        run = MlflowClient().get_run(MlflowClient().get_model_version(NAME, challenger).run_id)
        assert run.data.metrics["gate_score_psi_threshold"] == 0.0
        assert run.data.metrics["gate_score_psi_passed"] == 0.0
        assert run.data.metrics["gates_passed"] == 0.0
        assert "gate_auc_non_inferior_value" in run.data.metrics
        assert PromotionStore().list() == []


def test_a_dry_run_that_passes_leaves_the_registry_unchanged_and_says_what_it_would_do(
    loop: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    with environment(loop["env"]):
        client = MlflowClient()
        before = _aliases()
        versions = {v.version for v in client.search_model_versions(f"name='{NAME}'")}
        assert _retrain(loop, "--dry-run", *[a for g in LOOSE for a in ("--gate", g)]) == 0
        out = " ".join(capsys.readouterr().out.split())
        assert "Dry run: the registry is unchanged" in out
        assert f"@champion would move to it from version {before['champion']}" in out
        assert _aliases() == before
        assert {v.version for v in client.search_model_versions(f"name='{NAME}'")} == versions
        (run,) = client.search_runs(
            [client.get_experiment_by_name("techrisk").experiment_id],
            "tags.`techrisk.dry_run` = 'true'",
        )
        assert run.data.metrics["gates_passed"] == 1.0
        assert run.data.params["retrain_dry_run"] == "True"
        assert f"runs:/{run.info.run_id}/model" in out
        assert load_pd_model(f"runs:/{run.info.run_id}/model").features  # kept on its run
        assert PromotionStore().list() == []


def test_a_passing_challenger_becomes_champion_and_the_old_one_previous(
    loop: dict[str, object],
) -> None:
    with environment(loop["env"]):
        gates = [a for g in LOOSE for a in ("--gate", g)]
        assert _retrain(loop, *gates, "--by", "risk-team", "--reason", "quarterly") == 0
        aliases = _aliases()
        assert aliases["previous"] == loop["champion"]
        assert aliases["champion"] != loop["champion"] and "challenger" not in aliases
        tags = MlflowClient().get_model_version(NAME, aliases["champion"]).tags
        assert tags["promoted_by"] == "risk-team" and tags["promotion_action"] == "promote"
        assert {g["name"] for g in json.loads(tags["promotion_gates"])} >= set(GATES)
        (row,) = PromotionStore().list()
        assert (row.action, row.from_version, row.to_version, row.by, row.reason) == (
            "promote",
            loop["champion"],
            aliases["champion"],
            "risk-team",
            "quarterly",
        )
        assert all(g["passed"] for g in row.gates) and len(row.gates) == 6
        assert row.status == "done" and row.error is None
        loop["promoted"] = aliases["champion"]


def test_rollback_and_promotion_by_hand_move_the_aliases_and_are_recorded(
    loop: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    promoted = loop["promoted"]
    with environment(loop["env"]):
        assert main(["promote", "--to", "previous", "--by", "on-call"]) == 0
        assert _aliases() == {"champion": loop["champion"], "previous": promoted}
        capsys.readouterr()
        assert main(["promote", "--version", promoted]) == 2
        assert "--reason" in capsys.readouterr().err
        assert main(["promote", "--version", "999", "--reason", "x"]) == 2
        assert main(["promote", "--version", promoted, "--reason", "incident closed"]) == 0
        assert _aliases() == {"champion": promoted, "previous": loop["champion"]}
        rows = PromotionStore().list()
        assert [r.action for r in rows] == ["manual", "rollback", "promote"]
        assert rows[1].by == "on-call" and rows[0].reason == "incident closed"
        last = json.loads(MlflowClient().get_registered_model(NAME).tags["last_promotion"])
        assert last["action"] == "manual" and last["to_version"] == promoted
        assert main(["promotions"]) == 0
        assert "incident closed" in capsys.readouterr().out
