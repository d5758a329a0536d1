"""Store: Alembic environment, run programmatically by nlp.store (no alembic.ini needed)."""
from __future__ import annotations

from alembic import context

from nlp.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the toolkit always passes a connection
    raise RuntimeError("nlp migrations run through nlp.store.migrate(), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
