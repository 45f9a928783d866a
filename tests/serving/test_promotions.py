"""The promotions table of the audit store: its own migration, rows in order, rules enforced."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from serving.audit import AuditStore
from serving.promotions import MIGRATIONS, PromotionRow, PromotionStore, promotions


def _row(**changes: object) -> PromotionRow:
    values = dict(
        at=dt.datetime(2026, 7, 1, 9, 30, tzinfo=dt.UTC),
        action="promote",
        model_name="techrisk-pd",
        from_version="1",
        to_version="2",
        by="risk-team",
        reason="every retrain gate passed",
        gates=[{"name": "ece", "value": 0.01, "threshold": 0.03, "passed": True}],
        run_id="abc",
    )
    values.update(changes)
    return PromotionRow(**values)


def test_rows_come_back_newest_first_beside_the_decisions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    AuditStore(url).create_schema()
    store = PromotionStore(url)
    store.create_schema()
    store.create_schema()  # idempotent
    store.record(_row())
    store.record(_row(action="rollback", from_version="2", to_version="1", gates=[]))
    rows = store.list()
    assert [r.action for r in rows] == ["rollback", "promote"]
    assert rows[1].gates[0]["threshold"] == 0.03 and rows[1].at == _row().at
    assert store.list(model_name="other") == []
    tables = set(sa.inspect(sa.create_engine(url)).get_table_names())
    assert {"decisions", "promotions", "techrisk_promotions_alembic_version"} <= tables


def test_an_unknown_action_or_an_empty_reason_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="action must be one of"):
        _row(action="sideways")
    with pytest.raises(ValueError, match="reason"):
        _row(reason="  ")
    store = PromotionStore(f"sqlite:///{tmp_path / 'audit.db'}")
    store.create_schema()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.execute(
            sa.insert(promotions).values(
                at=dt.datetime.now(dt.UTC),
                action="sideways",
                model_name="m",
                to_version="1",
                by="x",
                reason="y",
                gates=[],
                status="done",
            )
        )


def test_a_promotion_is_pending_until_settled_once(url: str) -> None:
    store = PromotionStore(url)
    store.create_schema()
    first, second = store.record(_row()), store.record(_row(to_version="3"))
    assert [r.status for r in store.list()] == ["pending", "pending"]
    store.settle(first, "done")
    store.settle(second, "failed", "the registry refused the move: read-only")
    rows = {r.id: r for r in store.list()}
    assert (rows[first].status, rows[first].error) == ("done", None)
    assert rows[second].status == "failed" and "read-only" in rows[second].error
    assert rows[first].settled_at is not None and rows[first].settled_at.tzinfo is not None
    with pytest.raises(ValueError, match=f"record {first} is not pending"):
        store.settle(first, "failed", "late")
    with pytest.raises(ValueError, match="needs its error"):
        store.settle(store.record(_row()), "failed")
    with pytest.raises(ValueError, match="settles as 'done' or 'failed'"):
        store.settle(first, "pending")
    with pytest.raises(ValueError, match="status must be one of"):
        _row(status="maybe")


def test_rows_from_before_the_status_revision_are_done(url: str) -> None:
    """They were written after their move succeeded; new rows must state their status."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0001_promotions")
        connection.exec_driver_sql(
            "INSERT INTO promotions (at, action, model_name, to_version, by, reason, gates) "
            "VALUES ('2026-07-01 09:30:00', 'rollback', 'techrisk-pd', '1', 'x', 'y', '[]')"
        )
    store = PromotionStore(url)
    store.create_schema()
    (old,) = store.list()
    assert (old.status, old.error, old.settled_at) == ("done", None, None)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.execute(sa.insert(promotions).values(**_row().__dict__ | {"status": "maybe"}))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO promotions (at, action, model_name, to_version, by, reason, gates) "
            "VALUES ('2026-07-02 09:30:00', 'rollback', 'techrisk-pd', '2', 'x', 'y', '[]')"
        )
