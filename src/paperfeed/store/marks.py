"""What users mark on papers: one upvote each, saves with tags, a private note and a reading state (the library),
and papers an admin hid."""

from __future__ import annotations

import re

from sqlalchemy import Connection, Engine, and_, delete, func, or_, select, update

from paperfeed import markup
from paperfeed.clock import utcnow
from paperfeed.models import author_key
from paperfeed.store.accounts import TAG, AccountError, User
from paperfeed.store.db import insert_ignore
from paperfeed.store.schema import (
    group_notes,
    hidden_papers,
    library,
    library_tags,
    paper_authors,
    papers,
    upvotes,
)

STATES = ("to-read", "reading", "read")
MAX_NOTE = 20_000


def paper_exists(conn: Connection, paper_id: str) -> bool:
    return conn.execute(select(papers.c.id).where(papers.c.id == paper_id)).first() is not None


def set_upvote(engine: Engine, user: User, paper_id: str, on: bool) -> int:
    """Add or remove the user's vote (one per user and paper); the paper's vote count after."""
    with engine.begin() as conn:
        if on:
            insert_ignore(conn, upvotes, {"user_id": user.id, "paper_id": paper_id, "created_at": utcnow()})
        else:
            conn.execute(delete(upvotes).where(upvotes.c.user_id == user.id, upvotes.c.paper_id == paper_id))
        return vote_counts(conn, [paper_id]).get(paper_id, 0)


def vote_counts(conn: Connection, paper_ids: list[str]) -> dict[str, int]:
    if not paper_ids:
        return {}
    rows = conn.execute(
        select(upvotes.c.paper_id, func.count()).where(upvotes.c.paper_id.in_(paper_ids)).group_by(upvotes.c.paper_id)
    )
    return {pid: n for pid, n in rows}


def voted_by(conn: Connection, user: User | None, paper_ids: list[str]) -> set[str]:
    if user is None or not paper_ids:
        return set()
    rows = conn.execute(
        select(upvotes.c.paper_id).where(upvotes.c.user_id == user.id, upvotes.c.paper_id.in_(paper_ids))
    )
    return {pid for (pid,) in rows}


def clean_tags(text: str | list[str]) -> list[str]:
    """Tags from "a, b c" or a list; each 1-64 word characters (letters, digits, _ . + -)."""
    parts = text if isinstance(text, list) else re.split(r"[,\s]+", text)
    tags = []
    for t in parts:
        t = t.strip().lower()
        if not t:
            continue
        if not TAG.match(t):
            raise AccountError(f"a tag is 1 to 64 letters, digits, '_', '.', '+' or '-': {t[:70]!r}")
        if t not in tags:
            tags.append(t)
    return tags


def save_paper(engine: Engine, user: User, paper_id: str, tags: list[str] | None) -> None:
    """Put the paper in the user's library with exactly these tags (saving again replaces the tags; None
    leaves a saved paper's tags as they are)."""
    with engine.begin() as conn:
        insert_ignore(conn, library, {"user_id": user.id, "paper_id": paper_id, "saved_at": utcnow()})
        if tags is None:
            return
        conn.execute(delete(library_tags).where(library_tags.c.user_id == user.id, library_tags.c.paper_id == paper_id))
        if tags:
            # Two saves at once: each replaces the tags; neither fails on the other's rows.
            insert_ignore(conn, library_tags, [{"user_id": user.id, "paper_id": paper_id, "tag": t} for t in tags])


def unsave_paper(engine: Engine, user: User, paper_id: str) -> bool:
    with engine.begin() as conn:
        conn.execute(delete(library_tags).where(library_tags.c.user_id == user.id, library_tags.c.paper_id == paper_id))
        # The note goes with the paper: shared with a group, it must not come back if the paper is saved again.
        conn.execute(delete(group_notes).where(group_notes.c.user_id == user.id, group_notes.c.paper_id == paper_id))
        result = conn.execute(delete(library).where(library.c.user_id == user.id, library.c.paper_id == paper_id))
    return result.rowcount > 0


def library_of(
    conn: Connection, user: User, tag: str | None = None, state: str | None = None, text: str = ""
) -> list[dict]:
    """The user's saved papers, newest saved first, each with its tags, note and reading state; only those
    with `tag`, in `state` ("unset": none yet), or whose title, authors or note contain `text` (any case)."""
    query = (
        select(papers, library.c.saved_at, library.c.note, library.c.note_html, library.c.state)
        .join(library, library.c.paper_id == papers.c.id)
        .where(library.c.user_id == user.id)
        .order_by(library.c.saved_at.desc(), papers.c.id)
    )
    if state:
        query = query.where(library.c.state.is_(None) if state == "unset" else library.c.state == state)
    if text.strip():
        # Authors by their names' keys (accents and case folded), as the JSON text escapes "é" as \u00e9.
        found = [func.lower(f).like(like(text.strip().lower()), escape="\\") for f in (papers.c.title, library.c.note)]
        if author_key(text):
            mine = select(library.c.paper_id).where(library.c.user_id == user.id)
            by_author = select(paper_authors.c.paper_id).where(
                paper_authors.c.paper_id.in_(mine), paper_authors.c.key.like(like(author_key(text)), escape="\\")
            )
            found.append(papers.c.id.in_(by_author))
        query = query.where(or_(*found))
    if tag:
        query = query.where(
            papers.c.id.in_(
                select(library_tags.c.paper_id).where(library_tags.c.user_id == user.id, library_tags.c.tag == tag)
            )
        )
    rows = [dict(r) for r in conn.execute(query).mappings()]
    tags = tags_of(conn, user, [r["id"] for r in rows])
    for r in rows:
        r["tags"] = tags.get(r["id"], [])
    return rows


def tags_of(conn: Connection, user: User | None, paper_ids: list[str]) -> dict[str, list[str]]:
    """paper id -> the user's tags, for the papers the user saved (an empty list: saved, no tag)."""
    if user is None or not paper_ids:
        return {}
    saved = conn.execute(
        select(library.c.paper_id).where(library.c.user_id == user.id, library.c.paper_id.in_(paper_ids))
    )
    out: dict[str, list[str]] = {pid: [] for (pid,) in saved}
    rows = conn.execute(
        select(library_tags.c.paper_id, library_tags.c.tag)
        .where(library_tags.c.user_id == user.id, library_tags.c.paper_id.in_(paper_ids))
        .order_by(library_tags.c.tag)
    )
    for pid, tag in rows:
        out.setdefault(pid, []).append(tag)
    return out


def like(text: str) -> str:
    """A LIKE pattern for `text` anywhere, its own % and _ taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def notes_of(conn: Connection, user: User | None, paper_ids: list[str]) -> dict[str, dict]:
    """paper id -> {note, note_html, state} for the papers the user saved."""
    if user is None or not paper_ids:
        return {}
    rows = conn.execute(
        select(library.c.paper_id, library.c.note, library.c.note_html, library.c.state).where(
            library.c.user_id == user.id, library.c.paper_id.in_(paper_ids)
        )
    )
    return {pid: {"note": note, "note_html": html, "state": state} for pid, note, html, state in rows}


def set_note(engine: Engine, user: User, paper_id: str, text: str) -> None:
    """The user's private note on a saved paper (Markdown; empty removes it)."""
    text = text.replace("\r\n", "\n").strip()
    if len(text) > MAX_NOTE:
        raise AccountError(f"a note is at most {MAX_NOTE:,} characters; this one has {len(text):,}")
    if "\x00" in text:
        raise AccountError("the note contains a NUL character; paste it again as plain text")
    values = {"note": text or None, "note_html": markup.render(text) if text else None}
    update_saved(engine, user, paper_id, values)
    if not text:  # a removed note is no longer shared: a new one is private until shared again
        with engine.begin() as conn:
            mine = and_(group_notes.c.user_id == user.id, group_notes.c.paper_id == paper_id)
            conn.execute(delete(group_notes).where(mine))


def set_state(engine: Engine, user: User, paper_id: str, state: str | None) -> None:
    """The reading state of a saved paper: to-read, reading, read, or none."""
    if state is not None and state not in STATES:
        raise AccountError(f"a reading state is one of {', '.join(STATES)} (or none), not {state[:40]!r}")
    update_saved(engine, user, paper_id, {"state": state})


def update_saved(engine: Engine, user: User, paper_id: str, values: dict) -> None:
    # One UPDATE naming the user's row: a paper not (or no longer) in the library is not changed.
    with engine.begin() as conn:
        mine = and_(library.c.user_id == user.id, library.c.paper_id == paper_id)
        if conn.execute(update(library).where(mine).values(**values)).rowcount != 1:
            raise AccountError("save the paper to your library first")


def all_tags(conn: Connection, user: User) -> list[tuple[str, int]]:
    rows = conn.execute(
        select(library_tags.c.tag, func.count())
        .where(library_tags.c.user_id == user.id)
        .group_by(library_tags.c.tag)
        .order_by(library_tags.c.tag)
    )
    return [(t, n) for t, n in rows]


def set_hidden(engine: Engine, admin: User, paper_id: str, hidden: bool) -> None:
    with engine.begin() as conn:
        conn.execute(delete(hidden_papers).where(hidden_papers.c.paper_id == paper_id))
        if hidden:
            insert_ignore(conn, hidden_papers, {"paper_id": paper_id, "hidden_by": admin.id, "hidden_at": utcnow()})


def hidden_ids(conn: Connection) -> set[str]:
    return {pid for (pid,) in conn.execute(select(hidden_papers.c.paper_id))}
