"""Collections: a library tag shared with a title, a description, an order and a note per paper.

Who may read one is decided here, in one place: "private" only its owner; "unlisted" anyone holding its secret
link (not listed anywhere, no feed by number); "group" the members of one group the owner belongs to (on the
group's page; never by secret link or feed, which nobody signs in to read); "public" everyone, listed on
/collections and on the papers it holds. Its papers are always the owner's papers with the tag, as they are
now, less papers an admin hid.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, Engine, and_, delete, func, select, update

from paperfeed import markup
from paperfeed.clock import utcnow
from paperfeed.store.accounts import AccountError, User
from paperfeed.store.db import insert_ignore, upsert
from paperfeed.store.schema import (
    collection_entries,
    collections,
    group_members,
    groups,
    hidden_papers,
    library,
    library_tags,
    users,
)

VISIBILITY = ("private", "unlisted", "group", "public")
MAX_TITLE = 200
MAX_DESCRIPTION = 5_000
MAX_NOTE = 2_000


def check(title: str, description: str, visibility: str) -> tuple[str, str]:
    title = " ".join(title.split())
    if not title:
        raise AccountError("give the collection a title")
    if len(title) > MAX_TITLE:
        raise AccountError(f"a title is at most {MAX_TITLE} characters")
    description = description.replace("\r\n", "\n").strip()
    if len(description) > MAX_DESCRIPTION:
        raise AccountError(f"a description is at most {MAX_DESCRIPTION:,} characters")
    if visibility not in VISIBILITY:
        raise AccountError(f"a collection is {', '.join(VISIBILITY)}, not {visibility[:20]!r}")
    return title, description


def share(
    engine: Engine, user: User, tag: str, title: str, description: str, visibility: str, group_id: int | None = None
) -> int:
    """Make the user's tag a collection, or change it; its id. The secret link stays the same."""
    title, description = check(title, description, visibility)
    if (visibility == "group") != (group_id is not None):
        raise AccountError("choose one of your groups for a group collection" if group_id is None else "a group?")
    now = utcnow()
    values = {
        "title": title,
        "description": description,
        "description_html": markup.render(description) if description else "",
        "visibility": visibility,
        "group_id": group_id,
        "updated_at": now,
    }
    with engine.begin() as conn:
        if group_id is not None and not member(conn, group_id, user.id):
            raise AccountError("you can share a collection only with a group you belong to")
        held = conn.execute(
            select(func.count())
            .select_from(library_tags)
            .where(library_tags.c.user_id == user.id, library_tags.c.tag == tag)
        ).scalar_one()
        if not held:
            raise AccountError(f"no paper in your library has the tag {tag[:64]!r}")
        row = {"user_id": user.id, "tag": tag, "secret": secrets.token_urlsafe(24), "created_at": now, **values}
        insert_ignore(conn, collections, row)  # two shares at once: one row; the update below sets the values
        conn.execute(update(collections).where(mine(user, tag)).values(**values))
        return conn.execute(select(collections.c.id).where(mine(user, tag))).scalar_one()


def mine(user: User, tag: str):
    return and_(collections.c.user_id == user.id, collections.c.tag == tag)


def unshare(engine: Engine, user: User, tag: str) -> bool:
    with engine.begin() as conn:
        return conn.execute(delete(collections).where(mine(user, tag))).rowcount > 0


def of_tag(conn: Connection, user: User, tag: str) -> dict | None:
    row = conn.execute(select(collections).where(mine(user, tag))).mappings().first()
    return dict(row) if row else None


def readable(conn: Connection, collection_id: int | None, secret: str | None, viewer: User | None) -> dict | None:
    """The collection, if `viewer` may read it: by id when public or theirs, by secret link when not private
    (or theirs). None otherwise: the caller answers 404 either way, so a private one's existence is not told."""
    query = (
        select(collections, users.c.username.label("owner"), groups.c.name.label("group_name"))
        .join(users, users.c.id == collections.c.user_id)
        .outerjoin(groups, groups.c.id == collections.c.group_id)
    )
    if secret is not None:
        query = query.where(collections.c.secret == secret)
    else:
        query = query.where(collections.c.id == collection_id)
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    owner = viewer is not None and viewer.id == row["user_id"]
    if owner or row["visibility"] == "public" or (secret is not None and row["visibility"] == "unlisted"):
        return dict(row) | {"mine": owner}
    # A group's: both still members (a member who left takes their collection with them).
    group = row["group_id"] if row["visibility"] == "group" and viewer is not None else None
    if group is not None and member(conn, group, viewer.id) and member(conn, group, row["user_id"]):
        return dict(row) | {"mine": False}
    return None


def member(conn: Connection, group_id: int, user_id: int) -> bool:
    which = and_(group_members.c.group_id == group_id, group_members.c.user_id == user_id)
    return conn.execute(select(group_members.c.user_id).where(which)).first() is not None


def papers(conn: Connection, c: dict) -> list[tuple[str, str]]:
    """(paper id, note HTML) in the collection's order: the owner's positions first, then newest saved first."""
    notes = {
        pid: (pos, html)
        for pid, pos, html in conn.execute(
            select(collection_entries.c.paper_id, collection_entries.c.position, collection_entries.c.note_html).where(
                collection_entries.c.collection_id == c["id"]
            )
        )
    }
    rows = conn.execute(
        select(library.c.paper_id, library.c.saved_at)
        .join(
            library_tags,
            and_(library_tags.c.user_id == library.c.user_id, library_tags.c.paper_id == library.c.paper_id),
        )
        .where(
            library.c.user_id == c["user_id"],
            library_tags.c.tag == c["tag"],
            library.c.paper_id.not_in(select(hidden_papers.c.paper_id)),
        )
        .order_by(library.c.saved_at.desc(), library.c.paper_id)
    ).all()

    def place(row) -> tuple[bool, int]:
        position = notes.get(row[0], (None, ""))[0]
        return position is None, position or 0

    # sorted() is stable: papers without a position keep the newest-saved-first order.
    return [(pid, notes.get(pid, (None, ""))[1]) for pid, _ in sorted(rows, key=place)]


def arrange(engine: Engine, user: User, tag: str, entries: list[tuple[str, int | None, str]]) -> None:
    """The owner's order and notes: (paper id, position or None, note) for papers of the collection."""
    with engine.begin() as conn:
        c = of_tag(conn, user, tag)
        if c is None:
            raise AccountError("share the tag as a collection first")
        held = {pid for pid, _ in papers(conn, c)}
        for pid, position, note in entries:
            note = note.replace("\r\n", "\n").strip()
            if pid not in held:
                continue  # a paper untagged meanwhile: nothing to arrange
            if len(note) > MAX_NOTE:
                raise AccountError(f"a note in a collection is at most {MAX_NOTE:,} characters")
            row = {
                "collection_id": c["id"],
                "paper_id": pid,
                "position": position,
                "note": note,
                "note_html": markup.render(note) if note else "",
            }
            upsert(conn, collection_entries, row, ["collection_id", "paper_id"])


def entries(conn: Connection, c: dict) -> dict[str, dict]:
    rows = conn.execute(
        select(collection_entries.c.paper_id, collection_entries.c.position, collection_entries.c.note).where(
            collection_entries.c.collection_id == c["id"]
        )
    )
    return {pid: {"position": pos, "note": note} for pid, pos, note in rows}


def public_list(conn: Connection, limit: int = 100) -> list[dict]:
    rows = conn.execute(
        select(collections, users.c.username.label("owner"))
        .join(users, users.c.id == collections.c.user_id)
        .where(collections.c.visibility == "public")
        .order_by(collections.c.updated_at.desc(), collections.c.id.desc())
        .limit(limit)
    ).mappings()
    return [dict(r) for r in rows]


def by_title(conn: Connection, joined, where, *columns) -> list[dict]:
    """Collections (id, title, `columns`, owner) joined to `joined` (a table and its join condition) where
    `where` holds, by title: the one shape of the lists a paper page and a group page show."""
    rows = conn.execute(
        select(collections.c.id, collections.c.title, *columns, users.c.username.label("owner"))
        .join(users, users.c.id == collections.c.user_id)
        .join(*joined)
        .where(where)
        .order_by(collections.c.title)
    ).mappings()
    return [dict(r) for r in rows]


def holding(conn: Connection, paper_id: str) -> list[dict]:
    """The public collections that hold the paper ("in 3 collections")."""
    tagged = and_(library_tags.c.user_id == collections.c.user_id, library_tags.c.tag == collections.c.tag)
    where = and_(collections.c.visibility == "public", library_tags.c.paper_id == paper_id)
    return by_title(conn, (library_tags, tagged), where)


def copy_into(engine: Engine, user: User, c: dict, paper_ids: list[str], tag: str) -> int:
    """Save the collection's papers into the user's library under `tag` (papers already there keep their
    tags and gain this one); how many were new to the library."""
    if not paper_ids:
        return 0
    now = utcnow()
    with engine.begin() as conn:
        added = insert_ignore(conn, library, [{"user_id": user.id, "paper_id": p, "saved_at": now} for p in paper_ids])
        insert_ignore(conn, library_tags, [{"user_id": user.id, "paper_id": p, "tag": tag} for p in paper_ids])
    return added
