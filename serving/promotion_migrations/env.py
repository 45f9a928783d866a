"""Alembic environment of the promotions table, on the connection ``PromotionStore`` hands over.

A migration history of its own (own version table), beside the decisions' one: the two
tables evolve independently and their revisions never compete for one head.
"""

from alembic import context

from serving.promotions import VERSION_TABLE, metadata

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
