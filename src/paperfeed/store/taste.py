"""What a user told us about their taste: upvotes and library saves (likes), "not interested" marks."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, delete, select

from paperfeed.store.accounts import User
from paperfeed.store.db import insert_ignore
from paperfeed.store.importer import utcnow
from paperfeed.store.schema import library, not_interested, upvotes


def set_not_interested(engine: Engine, user: User, paper_id: str, on: bool) -> None:
    with engine.begin() as conn:
        if on:
            insert_ignore(conn, not_interested, {"user_id": user.id, "paper_id": paper_id, "created_at": utcnow()})
        else:
            conn.execute(
                delete(not_interested).where(not_interested.c.user_id == user.id, not_interested.c.paper_id == paper_id)
            )


def likes(conn: Connection, user_id: int) -> list[tuple[str, object]]:
    """(paper id, when), newest first; a paper both upvoted and saved counts once, at its latest."""
    rows = conn.execute(select(upvotes.c.paper_id, upvotes.c.created_at).where(upvotes.c.user_id == user_id)).all()
    rows += conn.execute(select(library.c.paper_id, library.c.saved_at).where(library.c.user_id == user_id)).all()
    latest: dict[str, object] = {}
    for pid, when in rows:
        latest[pid] = max(latest.get(pid, when), when)
    return sorted(latest.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)


def dislikes(conn: Connection, user_id: int) -> list[str]:
    return list(conn.scalars(select(not_interested.c.paper_id).where(not_interested.c.user_id == user_id)))
