"""Discussions, collections, author claims and groups."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
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

# -- discussions (migration 0009) -------------------------------------------------------------------
# A comment on a paper, in Markdown (`body`) and as the sanitised HTML made from it when it was written
# (`html`), so a long thread is served without parsing. One level of replies: `parent_id` is always a
# top-level comment. Deleting keeps the row ("[deleted]", its replies stay); an account deleted later
# leaves its comments without an author.
comments = Table(
    "comments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("parent_id", Integer, ForeignKey("comments.id", ondelete="CASCADE")),
    Column("body", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("edited_at", DateTime),
    Column("deleted_at", DateTime),
    Column("hidden_at", DateTime),
    Index("ix_comments_paper_created", "paper_id", "created_at"),
    Index("ix_comments_user_created", "user_id", "created_at"),
    Index("ix_comments_created", "created_at"),
)

# Earlier texts of a comment (before each edit, and before it was deleted): for admins only.
comment_edits = Table(
    "comment_edits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("comment_id", Integer, ForeignKey("comments.id", ondelete="CASCADE"), nullable=False),
    Column("body", Text, nullable=False),
    Column("replaced_at", DateTime, nullable=False),
    Index("ix_comment_edits_comment", "comment_id"),
)

# One report per reader and comment; an admin's decision (hide or keep) clears them.
comment_reports = Table(
    "comment_reports",
    metadata,
    Column("comment_id", Integer, ForeignKey("comments.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

# Replies and @-mentions, one per user and comment.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("comment_id", Integer, ForeignKey("comments.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("read_at", DateTime),
    UniqueConstraint("user_id", "comment_id", name="uq_notifications_user_comment"),
    Index("ix_notifications_user_read", "user_id", "read_at"),
)

# -- collections (migration 0012) ---------------------------------------------------------------------------
# A library tag shared as a collection: its papers are the owner's papers with that tag. "private": the owner
# only; "unlisted": anyone with the secret link; "public": listed, on the papers it holds, with a feed.
collections = Table(
    "collections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("tag", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("description_html", Text, nullable=False),
    Column("visibility", String(8), nullable=False),
    Column("secret", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    # visibility "group": the members of this group only (migration 0014); a deleted group leaves it private.
    Column("group_id", Integer, ForeignKey("groups.id", name="fk_collections_group", ondelete="SET NULL")),
    UniqueConstraint("user_id", "tag", name="uq_collections_user_tag"),
    Index("ix_collections_visibility", "visibility"),
)

# The owner's order and note for a paper of a collection (papers without a row follow, newest saved first).
collection_entries = Table(
    "collection_entries",
    metadata,
    Column("collection_id", Integer, ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer),
    Column("note", Text, nullable=False),
    Column("note_html", Text, nullable=False),
)

# "This is me" on an author page (migration 0013): pending until an admin confirms; one confirmed claim per
# author key. The claimant writes a short bio and pins papers of the page.
author_claims = Table(
    "author_claims",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(12), nullable=False),
    Column("bio", Text, nullable=False),
    Column("bio_html", Text, nullable=False),
    Column("pinned", JSON, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("decided_at", DateTime),
    UniqueConstraint("key", "user_id", name="uq_author_claims_key_user"),
    Index("ix_author_claims_status", "status"),
)

# -- groups (migration 0014) ------------------------------------------------------------------------------
# A lab or reading group. Members join by invite link; an owner invites, removes and promotes. What a member
# upvotes and saves while a member is the group's (its picks and activity) unless they turn `shares_activity`
# off; a note is shared with a group one paper at a time (group_notes).
groups = Table(
    "groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("description_html", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(8), nullable=False),  # owner | member
    Column("shares_activity", Boolean, nullable=False),
    Column("joined_at", DateTime, nullable=False),
    # Only what a member does from here on is the group's: set when they join and when they turn sharing
    # back on, so turning it on does not reveal what they did while it was off.
    Column("sharing_since", DateTime, nullable=False),
    Index("ix_group_members_user", "user_id"),
)

# An invite link: only its hash is kept (the link is shown once); it stops at its expiry, its use count or
# when revoked, whichever comes first.
group_invites = Table(
    "group_invites",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    Column("max_uses", Integer, nullable=False),
    Column("uses", Integer, nullable=False),
    Index("ix_group_invites_group", "group_id"),
)

# A member's library note on a paper, shared with one of their groups (the text stays in `library`).
group_notes = Table(
    "group_notes",
    metadata,
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("shared_at", DateTime, nullable=False),
    Index("ix_group_notes_paper", "paper_id"),
)

# Someone an owner removed: no invite admits them again until an owner lets them back.
group_bans = Table(
    "group_bans",
    metadata,
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("banned_at", DateTime, nullable=False),
)
