"""Create ``decisions``: one row per scoring decision, written before the response.

Revision ID: 0001_decisions
Revises:
Create Date: 2025-06-01

A frozen snapshot: later changes go in new revisions, never here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_decisions"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("request_id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("product", sa.String(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("model_name", sa.String(), nullable=False),
        sa.Column("model_version", sa.String(), nullable=False),
        sa.Column("pd", sa.Double(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("input_sha256", sa.String(64), nullable=False),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.CheckConstraint(
            "decision IN ('approve', 'review', 'decline')", name="ck_decisions_decision"
        ),
        sa.CheckConstraint(
            "channel IN ('score', 'score_batch', 'screen')", name="ck_decisions_channel"
        ),
    )
    op.create_index(
        "ix_decisions_credit_code_created_at", "decisions", ["credit_code", "created_at"]
    )
    op.create_index("ix_decisions_created_at", "decisions", ["created_at"])


def downgrade() -> None:
    """Refuse: dropping the audit trail must be a person's deliberate act, not a migration."""
    raise NotImplementedError("the decisions table is an audit record; drop it by hand if you must")
