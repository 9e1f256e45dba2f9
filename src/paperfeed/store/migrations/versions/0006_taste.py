"""Taste: keyword rules, sign-up categories, imported profiles, seen papers, webhooks and their deliveries.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def user_fk(primary_key: bool = False) -> sa.Column:
    return sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


def paper_fk(primary_key: bool = False, nullable: bool = False) -> sa.Column:
    fk = sa.ForeignKey("papers.id", ondelete="CASCADE")
    return sa.Column("paper_id", sa.String(64), fk, primary_key=primary_key, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "taste_rules",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        user_fk(),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("phrase", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("user_id", "kind", "phrase", name="uq_taste_rules_user_kind_phrase"),
    )
    op.create_table("taste_categories", user_fk(True), sa.Column("category", sa.String(32), primary_key=True))
    op.create_table(
        "imported_papers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        user_fk(),
        sa.Column("key", sa.String(300), nullable=False),
        paper_fk(nullable=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("vector", sa.LargeBinary),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("user_id", "key", name="uq_imported_papers_user_key"),
    )
    op.create_table(
        "seen_papers",
        user_fk(True),
        paper_fk(True),
        sa.Column("how", sa.String(8), primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        user_fk(),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("shape", sa.String(8), nullable=False),
        sa.Column("top_n", sa.Integer, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("disabled_reason", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_webhooks_user_id", "webhooks", ["user_id"])
    op.create_table(
        "hook_deliveries",
        sa.Column("hook_id", sa.Integer, sa.ForeignKey("webhooks.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("claimed_at", sa.DateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("sent_at", sa.DateTime),
    )


def downgrade() -> None:
    for table in ("hook_deliveries", "webhooks", "seen_papers", "imported_papers", "taste_categories", "taste_rules"):
        op.drop_table(table)
