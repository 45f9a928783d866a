"""The audit store's record of every move of ``@champion``: who, when, which gates, why.

The registry tags say the same (``training.promotion``), but an auditor reads the audit
database, and a registry can be rebuilt; the table keeps every move, in order, beside the
decisions the models made. Same database as the decisions (``TECHRISK_DATABASE_URL``), its
own table and migration history.

A move is written ``pending`` before any alias moves and settled ``done`` or ``failed`` after
(``training.promotion.move_champion``): the registry never moves without a row here, and a
move the registry refused says so. A row left ``pending`` is a move whose outcome was never
confirmed (the store went away after the aliases moved): the registry's ``last_promotion``
tag tells which.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from serving.audit import AuditUnavailable, UTCDateTime
from techrisk_base import settings

VERSION_TABLE = "techrisk_promotions_alembic_version"
MIGRATIONS = Path(__file__).with_name("promotion_migrations")
ACTIONS = ("promote", "manual", "rollback")
STATUSES = ("pending", "done", "failed")
#: Alembic keeps its migration context in module globals, so one thread migrates at a time.
_MIGRATING = threading.Lock()

metadata = sa.MetaData()

promotions = sa.Table(
    "promotions",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("model_name", sa.String(), nullable=False),
    sa.Column("from_version", sa.String(), nullable=True),
    sa.Column("to_version", sa.String(), nullable=False),
    sa.Column("by", sa.String(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("gates", sa.JSON(), nullable=False),
    sa.Column("run_id", sa.String(), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("settled_at", UTCDateTime(), nullable=True),
    sa.CheckConstraint("action IN ('promote', 'manual', 'rollback')", name="ck_promotions_action"),
    sa.CheckConstraint("status IN ('pending', 'done', 'failed')", name="ck_promotions_status"),
    sa.Index("ix_promotions_model_name_at", "model_name", "at"),
)


@dataclass(frozen=True)
class PromotionRow:
    at: dt.datetime
    action: str
    model_name: str
    from_version: str | None
    to_version: str
    by: str
    reason: str
    gates: list[dict[str, Any]] = field(default_factory=list)
    run_id: str | None = None
    status: str = "pending"
    error: str | None = None
    settled_at: dt.datetime | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}; got {self.action!r}")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}; got {self.status!r}")
        if not self.reason.strip():
            raise ValueError("reason must not be empty")


class PromotionStore:
    def __init__(self, url: str | None = None) -> None:
        self._url = make_url(url or settings.database_url())
        self._engine = sa.create_engine(self._url, pool_pre_ping=True)

    @property
    def url(self) -> str:
        return self._url.render_as_string(hide_password=True)

    def create_schema(self) -> None:
        """Migrate the promotions table to its newest revision (idempotent)."""
        try:
            settings.ensure_local_store(self._url.render_as_string(hide_password=False))
            with _MIGRATING, self._engine.begin() as connection:
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            raise AuditUnavailable(
                f"audit store {self.url} is unavailable: could not create the promotions "
                f"table: {exc}"
            ) from exc

    def record(self, row: PromotionRow) -> int:
        """Commit one promotion (``pending`` until settled); returns its id."""
        values = {k: v for k, v in row.__dict__.items() if k != "id"}
        try:
            with self._engine.begin() as connection:
                result = connection.execute(sa.insert(promotions).values(**values))
                return int(result.inserted_primary_key[0])
        except sa.exc.SQLAlchemyError as exc:
            raise AuditUnavailable(
                f"audit store {self.url} is unavailable: could not record the promotion of "
                f"{row.model_name} version {row.to_version}, so no alias was moved: {exc}"
            ) from exc

    def settle(self, entry: int, status: str, error: str | None = None) -> None:
        """Mark pending promotion ``entry`` ``done`` or ``failed`` (with the error)."""
        if status not in ("done", "failed"):
            raise ValueError(f"a promotion settles as 'done' or 'failed'; got {status!r}")
        if (status == "failed") != bool(error and error.strip()):
            raise ValueError(f"a failed promotion needs its error, a done one none; got {error!r}")
        query = (
            sa.update(promotions)
            .where(promotions.c.id == entry, promotions.c.status == "pending")
            .values(status=status, error=error, settled_at=dt.datetime.now(dt.UTC))
        )
        try:
            with self._engine.begin() as connection:
                settled = connection.execute(query).rowcount
        except sa.exc.SQLAlchemyError as exc:
            raise AuditUnavailable(
                f"audit store {self.url} is unavailable: could not mark promotion record "
                f"{entry} '{status}', so it stays 'pending': {exc}"
            ) from exc
        if settled != 1:
            raise ValueError(f"promotion record {entry} is not pending; cannot settle it {status}")

    def list(self, model_name: str | None = None, limit: int = 50) -> list[PromotionRow]:
        """The newest ``limit`` promotions, newest first."""
        if not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive integer; got {limit!r}")
        query = sa.select(promotions).order_by(promotions.c.id.desc()).limit(limit)
        if model_name is not None:
            query = query.where(promotions.c.model_name == model_name)
        try:
            with self._engine.connect() as connection:
                rows = connection.execute(query).all()
        except sa.exc.SQLAlchemyError as exc:
            raise AuditUnavailable(
                f"audit store {self.url} is unavailable: could not list promotions: {exc}"
            ) from exc
        return [PromotionRow(**row._mapping) for row in rows]

    def close(self) -> None:
        self._engine.dispose()
