"""Create ``shadow_scores`` (a shadow model's answer per decision) and ``outcomes`` (realised
defaults by loan id), the two inputs of ``techrisk monitor`` beside ``decisions``.

Revision ID: 0003_shadow_outcomes
Revises: 0002_chain_and_idempotency
Create Date: 2026-12-02

A frozen snapshot: later changes go in new revisions, never here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_shadow_outcomes"
down_revision = "0002_chain_and_idempotency"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shadow_scores",
        sa.Column("request_id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_name", sa.String(), nullable=False),
        sa.Column("model_version", sa.String(), nullable=False),
        sa.Column("pd", sa.Double(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(8), nullable=False),
    )
    op.create_index("ix_shadow_scores_created_at", "shadow_scores", ["created_at"])
    op.create_table(
        "outcomes",
        sa.Column("loan_id", sa.String(), primary_key=True),
        sa.Column("default_12m", sa.Boolean(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("outcomes")
    op.drop_index("ix_shadow_scores_created_at", table_name="shadow_scores")
    op.drop_table("shadow_scores")
