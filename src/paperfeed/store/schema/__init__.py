"""Tables, one module per area. Plain SQLAlchemy Core types only, so the same schema runs on SQLite and
PostgreSQL.

Migrations in `migrations/versions` create exactly this; a test compares the two. Import tables from here.
"""

from __future__ import annotations

from paperfeed.store.schema.accounts import (
    api_tokens,
    library,
    library_tags,
    not_interested,
    sessions,
    upvotes,
    users,
)
from paperfeed.store.schema.base import (
    metadata,
)
from paperfeed.store.schema.community import (
    author_claims,
    collection_entries,
    collections,
    comment_edits,
    comment_reports,
    comments,
    group_bans,
    group_invites,
    group_members,
    group_notes,
    groups,
    notifications,
)
from paperfeed.store.schema.digest import (
    outbox,
    saved_searches,
    subscriptions,
)
from paperfeed.store.schema.papers import (
    author_follows,
    external_signals,
    harvest_state,
    hidden_papers,
    ingest_runs,
    paper_authors,
    paper_categories,
    paper_changes,
    paper_sources,
    papers,
)
from paperfeed.store.schema.taste import (
    hook_deliveries,
    imported_papers,
    seen_papers,
    taste_answers,
    taste_categories,
    taste_models,
    taste_rules,
    webhooks,
)

__all__ = [
    "metadata",
    "papers",
    "paper_changes",
    "paper_categories",
    "paper_authors",
    "author_follows",
    "paper_sources",
    "external_signals",
    "ingest_runs",
    "harvest_state",
    "hidden_papers",
    "users",
    "sessions",
    "api_tokens",
    "upvotes",
    "library",
    "library_tags",
    "not_interested",
    "taste_rules",
    "taste_categories",
    "imported_papers",
    "seen_papers",
    "webhooks",
    "hook_deliveries",
    "taste_models",
    "taste_answers",
    "subscriptions",
    "saved_searches",
    "outbox",
    "comments",
    "comment_edits",
    "comment_reports",
    "notifications",
    "collections",
    "collection_entries",
    "author_claims",
    "groups",
    "group_members",
    "group_invites",
    "group_notes",
    "group_bans",
]
