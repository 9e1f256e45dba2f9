"""Author claims: "this is me" on an author page, confirmed by an admin; a bio and pinned papers.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "author_claims",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("bio", sa.Text, nullable=False),
        sa.Column("bio_html", sa.Text, nullable=False),
        sa.Column("pinned", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("decided_at", sa.DateTime),
        sa.UniqueConstraint("key", "user_id", name="uq_author_claims_key_user"),
    )
    op.create_index("ix_author_claims_status", "author_claims", ["status"])


def downgrade() -> None:
    op.drop_table("author_claims")
