"""The database: the single source of truth. Everything else (search indexes) derives from it."""

from paperfeed.store.db import init_db, make_engine

__all__ = ["init_db", "make_engine"]
