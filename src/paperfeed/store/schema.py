"""Tables. Plain SQLAlchemy Core types only, so the same schema runs on SQLite and PostgreSQL.

Migrations in `migrations/versions` create exactly this; a test compares the two.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

metadata = MetaData()

papers = Table(
    "papers",
    metadata,
    Column("id", String(64), primary_key=True),  # arXiv id without version, or "t-<hash>"
    Column("title", Text, nullable=False),
    Column("title_norm", Text, nullable=False),
    Column("abstract", Text, nullable=False),
    Column("authors", JSON, nullable=False),  # ordered list of names
    Column("categories", JSON, nullable=False),  # ordered, primary first
    Column("primary_category", String(32)),
    Column("version", Integer),
    Column("published", DateTime),  # first version, UTC
    Column("updated", DateTime),  # latest version we know, UTC
    Column("listed_date", Date),  # the day it appears on the daily list
    Column("comments", Text),
    Column("doi", Text),
    Column("journal_ref", Text),
    Column("report_no", Text),
    Column("license", Text),
    Column("created_at", DateTime, nullable=False),  # first stored here
    Column("modified_at", DateTime, nullable=False),  # last changed here
    Index("ix_papers_title_norm", "title_norm"),
    Index("ix_papers_listed_date", "listed_date"),
    Index("ix_papers_modified_at", "modified_at"),
)

# One row per (paper, category), so lists can be filtered by any of a paper's categories.
# The papers' change log (migration 0007): one row per paper added, changed or removed, in commit order per
# writer. Each serving node follows it from the last number it applied to keep its own search indexes in
# step with the shared store (see store/changes.py).
paper_changes = Table(
    "paper_changes",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("paper_id", String(64), nullable=False),
    Column("changed_at", DateTime, nullable=False),
    # No AUTOINCREMENT on SQLite: it hands out max + 1, which is never reused because rows are never deleted;
    # the keyword's bookkeeping made a full import 10-20 % slower (measured).
)

paper_categories = Table(
    "paper_categories",
    metadata,
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("category", String(32), primary_key=True),
    Index("ix_paper_categories_category", "category", "paper_id"),
)

# Each paper's authors, one row per position, with the name's key (models.author_key: case, accents,
# punctuation and spacing folded; initials are not expanded), for author pages (migration 0011).
paper_authors = Table(
    "paper_authors",
    metadata,
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("key", String(300), nullable=False),
    Index("ix_paper_authors_key", "key", "paper_id"),
)

# Authors a user follows (by key), with the name as they followed it: their new papers in the digest and a feed.
author_follows = Table(
    "author_follows",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(300), primary_key=True),
    Column("name", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

# Where each paper came from: the first record of each source that named it.
paper_sources = Table(
    "paper_sources",
    metadata,
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("source", String(32), primary_key=True),
    Column("ref", Text, nullable=False),
    Column("first_seen", DateTime, nullable=False),
)

# Signals that sources carry (Hugging Face upvotes, submission day), kept apart from our users' votes.
external_signals = Table(
    "external_signals",
    metadata,
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("source", String(32), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value_num", Float),
    Column("value_text", Text),
    Column("observed_at", DateTime, nullable=False),
)

ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("target", Text, nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("status", String(16), nullable=False),  # running | done | failed
    Column("new", Integer, nullable=False, default=0),
    Column("updated", Integer, nullable=False, default=0),
    Column("unchanged", Integer, nullable=False, default=0),
    Column("rejected", Integer, nullable=False, default=0),
    Column("message", Text),
)

# Watermarks for incremental harvests, e.g. the last OAI-PMH datestamp per set.
harvest_state = Table(
    "harvest_state",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

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

# -- taste (migration 0006): what "For you" learns from and where it is delivered --------------------

# Keyword rules: "must" keeps only papers that mention one of the user's must-phrases, "never" drops papers
# that mention the phrase, "boost" ranks papers that mention it higher (the sign-up keywords are boosts).
taste_rules = Table(
    "taste_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(8), nullable=False),  # must | never | boost
    Column("phrase", String(100), nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("user_id", "kind", "phrase", name="uq_taste_rules_user_kind_phrase"),
)

# Categories chosen at sign-up: the cold start before the first like.
taste_categories = Table(
    "taste_categories",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("category", String(32), primary_key=True),
)

# An imported profile (BibTeX, arXiv ids, "my papers"): entries matched to a stored paper carry its id;
# unmatched ones keep their text and its embedding (float32 bytes). `key` is the paper id, or "t:" + the
# normalised title, so importing the same library twice adds nothing.
imported_papers = Table(
    "imported_papers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(300), nullable=False),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE")),
    Column("title", Text, nullable=False),
    Column("vector", LargeBinary),
    Column("source", String(8), nullable=False),  # bibtex | ids | author
    Column("created_at", DateTime, nullable=False),
    Column("added_at", DateTime),  # when it joined the user's library, if the file says (migration 0008)
    UniqueConstraint("user_id", "key", name="uq_imported_papers_user_key"),
)

# Papers a user has seen: shown in a digest, feed or hook, or opened. Keyed by the paper id, which has no
# version, so a new version of a seen paper stays seen.
seen_papers = Table(
    "seen_papers",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("how", String(8), primary_key=True),  # digest | feed | hook | opened
    Column("at", DateTime, nullable=False),
)

# Webhooks: the day's top N For-you papers POSTed as JSON (plain, Slack or Discord shape).
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("url", Text, nullable=False),
    Column("shape", String(8), nullable=False),  # json | slack | discord
    Column("top_n", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text),
    Column("created_at", DateTime, nullable=False),
    Index("ix_webhooks_user_id", "user_id"),
)

# One delivery per (hook, listing day): the key makes it idempotent, the status sends it at most once.
hook_deliveries = Table(
    "hook_deliveries",
    metadata,
    Column("hook_id", Integer, ForeignKey("webhooks.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("status", String(8), nullable=False),  # pending | sending | sent | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("claimed_at", DateTime),
    Column("last_error", Text),
    Column("sent_at", DateTime),
)

# Papers an admin has hidden: left out of lists, search, feeds and similar papers.
hidden_papers = Table(
    "hidden_papers",
    metadata,
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("hidden_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("hidden_at", DateTime, nullable=False),
)

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

# Each user's fitted For-you models per view ("" for the whole taste, else a library tag), each for one `key`
# (a hash of what the model read: their taste, the vocabulary, the negatives); the newest few are kept, so the
# latest day and an older one ranked in turn do not refit each other's (migration 0008).
taste_models = Table(
    "taste_models",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("view", String(64), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("model", LargeBinary, nullable=False),
    Column("fitted_at", DateTime, nullable=False),
)

# Answers to "Is this relevant to you?" (active learning): a yes counts as a like, a no as "not interested"
# for the model, without hiding the paper (migration 0008).
taste_answers = Table(
    "taste_answers",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("relevant", Boolean, nullable=False),
    Column("answered_at", DateTime, nullable=False),
)

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
