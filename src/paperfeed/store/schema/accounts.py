"""Accounts and what users do with papers: sessions, tokens, upvotes, the library and its tags."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text, func

from paperfeed.store.schema.base import metadata

# -- accounts and what users do (migration 0002) ------------------------------------------------

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(32), nullable=False, unique=True),
    Column("email", Text),
    Column("password_hash", Text, nullable=False),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
)
# One name whatever its case (migration 0004).
Index("uq_users_username_lower", func.lower(users.c.username), unique=True)

# Server-side sessions: the cookie holds a random token, the table its SHA-256, so logging out
# (or deleting the account, or changing the password) really ends a session.
sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Index("ix_sessions_user_id", "user_id"),
)

# Tokens for scripts (kind "api", sent as a Bearer header) and private feeds (kind "feed", in the URL).
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("name", Text, nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("last_used_at", DateTime),
    Index("ix_api_tokens_user_id", "user_id"),
)

upvotes = Table(
    "upvotes",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Index("ix_upvotes_paper_id", "paper_id"),
)

library = Table(
    "library",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("saved_at", DateTime, nullable=False),
    # The reader's private note (Markdown, and its sanitised HTML) and reading state (migration 0010).
    Column("note", Text),
    Column("note_html", Text),
    Column("state", String(16)),
)

library_tags = Table(
    "library_tags",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(64), primary_key=True),
    Index("ix_library_tags_user_tag", "user_id", "tag"),
)

# "Not interested" marks (migration 0005): negative signal for a user's recommendations.
not_interested = Table(
    "not_interested",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", DateTime, nullable=False),
)
