"""The store's insert helpers answer the same on SQLite and PostgreSQL (psycopg's rowcount is -1 there)."""

from __future__ import annotations

from datetime import datetime

from paperfeed.store.db import insert_ignore
from paperfeed.store.schema import harvest_state


def test_insert_ignore_counts_the_rows_it_inserted(engine):
    row = {"key": "first-admin", "value": "1", "updated_at": datetime(2026, 12, 1)}
    with engine.begin() as conn:
        assert insert_ignore(conn, harvest_state, row) == 1
        assert insert_ignore(conn, harvest_state, row) == 0  # a second claim of the same key wins nothing
        more = [{**row, "key": k} for k in ("a", "b", "first-admin")]
        assert insert_ignore(conn, harvest_state, more) == 2
