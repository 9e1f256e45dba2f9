"""Author pages: each paper's authors as rows with their name's key (filled from the stored papers), and the
authors users follow.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from paperfeed.models import author_key

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None
CHUNK = 5000


def upgrade() -> None:
    table = op.create_table(
        "paper_authors",
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
    )
    op.create_index("ix_paper_authors_key", "paper_authors", ["key", "paper_id"])
    op.create_table(
        "author_follows",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    conn = op.get_bind()
    papers = sa.table("papers", sa.column("id", sa.String), sa.column("authors", sa.JSON))
    rows = []
    for pid, authors in conn.execute(sa.select(papers.c.id, papers.c.authors)):
        rows += [
            {"paper_id": pid, "position": n, "name": name, "key": author_key(name)}
            for n, name in enumerate(authors or [])
            if author_key(name)
        ]
        if len(rows) >= CHUNK:
            conn.execute(sa.insert(table), rows)
            rows = []
    if rows:
        conn.execute(sa.insert(table), rows)


def downgrade() -> None:
    op.drop_table("author_follows")
    op.drop_table("paper_authors")
