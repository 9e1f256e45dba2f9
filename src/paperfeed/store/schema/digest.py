"""Email digests: subscriptions, saved searches and the outbox."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from paperfeed.store.schema.base import metadata

# -- email digests (migration 0003) ------------------------------------------------------------

# One subscription per user. `frequency` daily | weekly; delivery at `hour` local time in `timezone`
# (weekly: on `weekday`, 0 = Monday). Sections: trending top `trending_n`, new papers in `categories`,
# papers by `authors`, and the user's saved searches.
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("email", Text, nullable=False),
    Column("frequency", String(8), nullable=False),
    Column("hour", Integer, nullable=False),
    Column("weekday", Integer, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("trending_n", Integer, nullable=False),
    Column("categories", JSON, nullable=False),
    Column("authors", JSON, nullable=False),
    Column("send_empty", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("verified_at", DateTime),
    Column("bounced_at", DateTime),  # a permanent failure (5xx): no more digests until the address changes
    Column("bounce_reason", Text),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

saved_searches = Table(
    "saved_searches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("title", Text, nullable=False),
    Column("query", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_saved_searches_user_id", "user_id"),
)

# Every email, composed once: a digest per (user, period) or a verification message. The unique key
# makes composing idempotent; the status makes sending at most once per row (see digest/outbox.py).
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("period", String(64), nullable=False),  # "daily:2026-11-25", "weekly:2026-W48", "verify:..."
    Column("kind", String(8), nullable=False),  # digest | verify
    Column("status", String(8), nullable=False),  # pending | sending | sent | failed | empty
    Column("to_addr", Text, nullable=False),
    Column("message", Text, nullable=False),  # the whole RFC 5322 message as composed
    Column("paper_ids", JSON, nullable=False),
    Column("covered_until", Date),  # the newest listing day this digest saw (the next one starts after it)
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("claimed_by", String(128)),
    Column("claimed_at", DateTime),
    Column("last_error", Text),
    Column("created_at", DateTime, nullable=False),
    Column("sent_at", DateTime),
    UniqueConstraint("user_id", "period", name="uq_outbox_user_period"),
    Index("ix_outbox_status_next", "status", "next_attempt_at"),
)
