"""No alias moves without a record: the audit row is written first and settled after the move.

A registry of two hand-made versions (no training) and the audit store in SQLite; the store's
failures are real refusals of the database (triggers), the registry's a refused alias call.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
import sqlalchemy as sa
from mlflow import MlflowClient

from serving.promotions import PromotionStore
from techrisk.cli import main

NAME = "techrisk-pd"


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """``@champion`` on version 1, version 2 waiting; returns the audit store's URL."""
    audit = f"sqlite:///{tmp_path / 'audit.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("TECHRISK_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("TECHRISK_DATABASE_URL", audit)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client = MlflowClient()
    client.create_registered_model(NAME)
    for version in ("1", "2"):
        client.create_model_version(NAME, source=str(tmp_path / f"model{version}"))
    client.set_registered_model_alias(NAME, "champion", "1")
    client.set_registered_model_alias(NAME, "challenger", "2")
    PromotionStore(audit).create_schema()
    return audit


def _aliases() -> dict[str, str]:
    return {k: str(v) for k, v in MlflowClient().get_registered_model(NAME).aliases.items()}


def _refuse(url: str, when: str) -> None:
    """The audit database refuses every ``INSERT`` or ``UPDATE`` of a promotion."""
    with sa.create_engine(url).begin() as connection:
        connection.exec_driver_sql(
            f"CREATE TRIGGER refuse BEFORE {when} ON promotions "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )


def _promote() -> int:
    return main(["promote", "--version", "2", "--reason", "committee", "--by", "risk-team"])


def test_a_promotion_is_recorded_then_settled_done(registry: str) -> None:
    assert _promote() == 0
    assert _aliases() == {"champion": "2", "previous": "1"}
    (row,) = PromotionStore(registry).list()
    assert (row.action, row.from_version, row.to_version, row.status) == (
        "manual",
        "1",
        "2",
        "done",
    )
    assert row.error is None and row.settled_at is not None and row.settled_at >= row.at


def test_a_refused_record_moves_no_alias(registry: str, capsys: pytest.CaptureFixture[str]) -> None:
    _refuse(registry, "INSERT")
    assert _promote() == 2
    assert _aliases() == {"champion": "1", "challenger": "2"}
    err = capsys.readouterr().err
    assert "could not record the promotion of techrisk-pd version 2" in err
    assert "no alias was moved" in err and "database or disk is full" in err
    registered = MlflowClient().get_registered_model(NAME)
    assert "last_promotion" not in registered.tags
    assert "promoted_by" not in MlflowClient().get_model_version(NAME, "2").tags
    assert PromotionStore(registry).list() == []


def test_a_refused_alias_move_is_recorded_as_failed_and_the_aliases_put_back(
    registry: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    moves = MlflowClient.set_registered_model_alias

    def refuse_champion(self: MlflowClient, name: str, alias: str, version: str) -> None:
        if alias == "champion" and version == "2":
            raise mlflow.exceptions.MlflowException("registry is read-only")
        moves(self, name, alias, version)

    monkeypatch.setattr(MlflowClient, "set_registered_model_alias", refuse_champion)
    assert _promote() == 2
    err = capsys.readouterr().err
    assert "manual of techrisk-pd version 2 failed" in err and "registry is read-only" in err
    assert _aliases() == {"champion": "1", "challenger": "2"}  # @previous set, then undone
    (row,) = PromotionStore(registry).list()
    assert (row.status, row.to_version) == ("failed", "2")
    assert "registry is read-only" in row.error
    assert "aliases restored (@champion=1, @previous=none, @challenger=2)" in row.error
    assert main(["promotions"]) == 0
    assert "│ failed" in capsys.readouterr().out  # the status column of the listing


def test_a_record_that_cannot_be_settled_stays_pending_beside_the_move(
    registry: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _refuse(registry, "UPDATE")
    assert _promote() == 2
    assert "could not mark promotion record 1 'done', so it stays 'pending'" in (
        capsys.readouterr().err
    )
    assert _aliases() == {"champion": "2", "previous": "1"}
    (row,) = PromotionStore(registry).list()
    assert (row.status, row.to_version, row.by) == ("pending", "2", "risk-team")
    last = json.loads(MlflowClient().get_registered_model(NAME).tags["last_promotion"])
    assert (last["to_version"], last["by"]) == ("2", "risk-team")
