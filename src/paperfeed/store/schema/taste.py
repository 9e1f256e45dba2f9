"""What "For you" learns from (rules, categories, imports, seen papers, fitted models, answers) and where it
is delivered (webhooks)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from paperfeed.store.schema.base import metadata

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
