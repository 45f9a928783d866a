"""Create ``promotions``: one row per move of ``@champion`` (gated, by hand, or rollback).

Revision ID: 0001_promotions
Revises:
Create Date: 2026-12-02

A frozen snapshot: later changes go in new revisions, never here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_promotions"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("model_name", sa.String(), nullable=False),
        sa.Column("from_version", sa.String(), nullable=True),
        sa.Column("to_version", sa.String(), nullable=False),
        sa.Column("by", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("gates", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=True),
        sa.CheckConstraint(
            "action IN ('promote', 'manual', 'rollback')", name="ck_promotions_action"
        ),
        sa.Index("ix_promotions_model_name_at", "model_name", "at"),
    )


def downgrade() -> None:
    op.drop_table("promotions")
