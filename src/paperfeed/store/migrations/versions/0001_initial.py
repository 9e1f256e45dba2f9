"""Papers, their categories and sources, external signals, ingest runs, harvest watermarks.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "papers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("title_norm", sa.Text, nullable=False),
        sa.Column("abstract", sa.Text, nullable=False),
        sa.Column("authors", sa.JSON, nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("primary_category", sa.String(32)),
        sa.Column("version", sa.Integer),
        sa.Column("published", sa.DateTime),
        sa.Column("updated", sa.DateTime),
        sa.Column("listed_date", sa.Date),
        sa.Column("comments", sa.Text),
        sa.Column("doi", sa.Text),
        sa.Column("journal_ref", sa.Text),
        sa.Column("report_no", sa.Text),
        sa.Column("license", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("modified_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_papers_title_norm", "papers", ["title_norm"])
    op.create_index("ix_papers_listed_date", "papers", ["listed_date"])
    op.create_index("ix_papers_modified_at", "papers", ["modified_at"])
    fk = dict(ondelete="CASCADE")
    op.create_table(
        "paper_categories",
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", **fk), primary_key=True),
        sa.Column("category", sa.String(32), primary_key=True),
    )
    op.create_index("ix_paper_categories_category", "paper_categories", ["category", "paper_id"])
    op.create_table(
        "paper_sources",
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", **fk), primary_key=True),
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("ref", sa.Text, nullable=False),
        sa.Column("first_seen", sa.DateTime, nullable=False),
    )
    op.create_table(
        "external_signals",
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", **fk), primary_key=True),
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value_num", sa.Float),
        sa.Column("value_text", sa.Text),
        sa.Column("observed_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("new", sa.Integer, nullable=False),
        sa.Column("updated", sa.Integer, nullable=False),
        sa.Column("unchanged", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("message", sa.Text),
    )
    op.create_table(
        "harvest_state",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for name in (
        "harvest_state",
        "ingest_runs",
        "external_signals",
        "paper_sources",
        "paper_categories",
        "papers",
    ):
        op.drop_table(name)
