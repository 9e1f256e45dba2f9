"""Papers, where they came from, their change log and the harvests that fetch them; what an admin hides."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Date, DateTime, Float, ForeignKey, Index, Integer, String, Table, Text

from paperfeed.store.schema.base import metadata

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


# Papers an admin has hidden: left out of lists, search, feeds and similar papers.
hidden_papers = Table(
    "hidden_papers",
    metadata,
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("hidden_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("hidden_at", DateTime, nullable=False),
)
