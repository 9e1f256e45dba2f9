"""Alembic environment: runs on the connection paperfeed passes in, or on sqlalchemy.url."""

import warnings

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.exc import SAWarning

from paperfeed.store.schema import metadata

config = context.config


def run(connection) -> None:
    # render_as_batch: SQLite can only alter tables by copying them.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction(), warnings.catch_warnings():
        # A batch copy reflects the tables it refers to; SQLite's dialect cannot reflect the expression index on
        # users (lower(username)) and says so on stderr, where a command's one-line answer would get a traceback-
        # like line above it. The users table is never copied, so its index stays as it is.
        warnings.filterwarnings(
            "ignore", "Skipped unsupported reflection of expression-based index uq_users_username_lower", SAWarning
        )
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    with create_engine(config.get_main_option("sqlalchemy.url")).connect() as conn:
        run(conn)
        conn.commit()
