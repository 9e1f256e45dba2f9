"""Each user's fitted For-you model, kept until their taste or the corpus vocabulary changes; and the answers
to "Is this relevant to you?"; and when an imported entry joined the user's library (its file's date).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "taste_models",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("view", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("model", sa.LargeBinary, nullable=False),
        sa.Column("fitted_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "taste_answers",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("relevant", sa.Boolean, nullable=False),
        sa.Column("answered_at", sa.DateTime, nullable=False),
    )
    with op.batch_alter_table("imported_papers") as batch:
        batch.add_column(sa.Column("added_at", sa.DateTime))


def downgrade() -> None:
    with op.batch_alter_table("imported_papers") as batch:
        batch.drop_column("added_at")
    op.drop_table("taste_answers")
    op.drop_table("taste_models")
