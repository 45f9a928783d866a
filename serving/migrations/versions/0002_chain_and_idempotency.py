"""Chain every decision to the one before it, and keep clients' idempotency keys.

Revision ID: 0002_chain_and_idempotency
Revises: 0001_decisions
Create Date: 2026-12-02

Adds ``seq``, ``prev_hash`` and ``row_hash`` (the hash chain), ``idempotency_key`` with the
``response`` it was answered with, and the one-row ``decision_chain`` table holding the head
every writer locks and the anchor ``purge`` moves. Rows written before this revision are
chained here in the order they were created; the chain vouches for them only from now on.

A frozen snapshot: later changes go in new revisions, never here. The hash definition
(``serving.audit.chain_hash``) is part of the audit format and never changes.
"""

import sqlalchemy as sa
from alembic import op

from serving.audit import GENESIS_HASH, HASHED_FIELDS, UTCDateTime, chain_hash

revision = "0002_chain_and_idempotency"
down_revision = "0001_decisions"
branch_labels = None
depends_on = None

_rows = sa.table(
    "decisions",
    sa.column("request_id", sa.String()),
    sa.column("created_at", UTCDateTime()),
    sa.column("as_of", sa.Date()),
    sa.column("reasons", sa.JSON()),
    sa.column("seq", sa.BigInteger()),
    sa.column("prev_hash", sa.String()),
    sa.column("row_hash", sa.String()),
    *(
        sa.column(name)
        for name in HASHED_FIELDS
        if name not in ("request_id", "created_at", "as_of", "reasons", "response")
    ),
    sa.column("response", sa.JSON()),
)


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("row_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("idempotency_key", sa.String(200), nullable=True))
        batch.add_column(sa.Column("response", sa.JSON(), nullable=True))
    head_seq, head_hash = _chain_existing_rows()
    with op.batch_alter_table("decisions") as batch:
        for name in ("seq", "prev_hash", "row_hash"):
            batch.alter_column(name, nullable=False)
        batch.create_index("ux_decisions_seq", ["seq"], unique=True)
        batch.create_index("ux_decisions_idempotency_key", ["idempotency_key"], unique=True)
    chain = op.create_table(
        "decision_chain",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("head_seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("anchor_seq", sa.BigInteger(), nullable=False),
        sa.Column("anchor_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_decision_chain_one_row"),
    )
    op.bulk_insert(
        chain,
        [
            {
                "id": 1,
                "head_seq": head_seq,
                "head_hash": head_hash,
                "anchor_seq": 0,
                "anchor_hash": GENESIS_HASH,
            }
        ],
    )


def _chain_existing_rows() -> tuple[int, str]:
    """Number and hash the rows already stored, oldest first; return the head."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_rows).order_by(_rows.c.created_at, _rows.c.request_id)
    ).all()
    seq, prev = 0, GENESIS_HASH
    for row in rows:
        seq += 1
        digest = chain_hash(row._mapping, seq, prev)
        connection.execute(
            sa.update(_rows)
            .where(_rows.c.request_id == row.request_id)
            .values(seq=seq, prev_hash=prev, row_hash=digest)
        )
        prev = digest
    return seq, prev


def downgrade() -> None:
    """Refuse: dropping the audit trail must be a person's deliberate act, not a migration."""
    raise NotImplementedError("the decision chain is an audit record; drop it by hand if you must")
