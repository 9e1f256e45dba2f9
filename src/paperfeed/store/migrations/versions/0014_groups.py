"""Groups (labs, reading groups): members with roles, invite links, notes shared with a group, and
collections visible to a group's members.

Revision ID: 0014
Revises: 0013
"""

from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("description_html", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Integer, sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("shares_activity", sa.Boolean, nullable=False),
        sa.Column("joined_at", sa.DateTime, nullable=False),
        sa.Column("sharing_since", sa.DateTime, nullable=False),
    )
    op.create_index("ix_group_members_user", "group_members", ["user_id"])
    op.create_table(
        "group_invites",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("group_id", sa.Integer, sa.ForeignKey("groups.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime),
        sa.Column("max_uses", sa.Integer, nullable=False),
        sa.Column("uses", sa.Integer, nullable=False),
    )
    op.create_index("ix_group_invites_group", "group_invites", ["group_id"])
    op.create_table(
        "group_notes",
        sa.Column("group_id", sa.Integer, sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("shared_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_group_notes_paper", "group_notes", ["paper_id"])
    op.create_table(
        "group_bans",
        sa.Column("group_id", sa.Integer, sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("banned_at", sa.DateTime, nullable=False),
    )
    add_group_column()


def add_group_column() -> None:
    """collections.group_id. SQLite adds a constraint by copying the table (batch mode), and dropping the old copy
    cascades to collection_entries: every collection's order and notes are kept aside and put back."""
    with keeping_entries(), op.batch_alter_table("collections") as batch:
        batch.add_column(sa.Column("group_id", sa.Integer))
        batch.create_foreign_key("fk_collections_group", "groups", ["group_id"], ["id"], ondelete="SET NULL")


@contextmanager
def keeping_entries():
    entries = sa.table(
        "collection_entries",
        *(sa.column(n) for n in ("collection_id", "paper_id", "position", "note", "note_html")),
    )
    if op.get_bind().dialect.name != "sqlite":  # PostgreSQL alters the table in place
        yield
        return
    kept = [dict(r) for r in op.get_bind().execute(sa.select(entries)).mappings()]
    yield
    if kept and not op.get_bind().execute(sa.select(sa.func.count()).select_from(entries)).scalar():
        op.bulk_insert(entries, kept)


def downgrade() -> None:
    with keeping_entries(), op.batch_alter_table("collections") as batch:
        batch.drop_constraint("fk_collections_group", type_="foreignkey")
        batch.drop_column("group_id")
    op.drop_table("group_bans")
    op.drop_table("group_notes")
    op.drop_table("group_invites")
    op.drop_table("group_members")
    op.drop_table("groups")
