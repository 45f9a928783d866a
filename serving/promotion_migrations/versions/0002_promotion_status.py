"""Promotions recorded first, settled after: ``status``, ``error``, ``settled_at``.

Revision ID: 0002_promotion_status
Revises: 0001_promotions
Create Date: 2026-12-02

``pending`` (written, aliases not yet confirmed moved), ``done`` or ``failed`` (the registry
refused the move; ``error`` says why and whether the aliases were restored). Rows written
before this revision were written after their move succeeded, so they are ``done``; new rows
state their status (no default).

A frozen snapshot: later changes go in new revisions, never here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_promotion_status"
down_revision = "0001_promotions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("promotions") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="done"))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_check_constraint(
            "ck_promotions_status", "status IN ('pending', 'done', 'failed')"
        )
    # The default only fills the rows already there; every new row states its status.
    with op.batch_alter_table("promotions") as batch:
        batch.alter_column("status", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("promotions") as batch:
        batch.drop_constraint("ck_promotions_status", type_="check")
        batch.drop_column("settled_at")
        batch.drop_column("error")
        batch.drop_column("status")
