"""Usernames are unique regardless of case ("ALICE_T" and "alice_t" are one name).

An install that already holds names differing only in case keeps the oldest as it is and renames the
others to NAME-2, NAME-3, … (printed, so the operator can tell those users).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, username FROM users ORDER BY id")).all()
    taken = {name.lower() for _, name in rows}
    seen: set[str] = set()
    for uid, name in rows:
        if name.lower() not in seen:
            seen.add(name.lower())
            continue
        n = 2
        while renamed(name, n).lower() in taken:
            n += 1
        new = renamed(name, n)
        taken.add(new.lower())
        print(f"paperfeed: username {name!r} (id {uid}) differs from an older one only in case; renamed to {new!r}")
        conn.execute(sa.text("UPDATE users SET username = :new WHERE id = :id"), {"new": new, "id": uid})
    op.create_index("uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True)


def renamed(name: str, n: int) -> str:
    """NAME-n, within the column's 32 characters."""
    suffix = f"-{n}"
    return name[: 32 - len(suffix)] + suffix


def downgrade() -> None:
    op.drop_index("uq_users_username_lower", "users")
