"""A private note (Markdown and its HTML) and a reading state (to read, reading, read) on each saved paper.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("library") as batch:
        batch.add_column(sa.Column("note", sa.Text))
        batch.add_column(sa.Column("note_html", sa.Text))
        batch.add_column(sa.Column("state", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("library") as batch:
        batch.drop_column("state")
        batch.drop_column("note_html")
        batch.drop_column("note")
