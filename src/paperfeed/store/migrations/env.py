"""Alembic environment: runs on the connection paperfeed passes in, or on sqlalchemy.url."""

from alembic import context
from sqlalchemy import create_engine

from paperfeed.store.schema import metadata

config = context.config


def run(connection) -> None:
    # render_as_batch: SQLite can only alter tables by copying them.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    with create_engine(config.get_main_option("sqlalchemy.url")).connect() as conn:
        run(conn)
        conn.commit()
