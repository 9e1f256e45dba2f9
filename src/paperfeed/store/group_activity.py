"""What a group sees of its members: their picks (what they upvote and save while a member, unless they turned
sharing off), their activity and comments, the notes they share one paper at a time, and the group's
collections. Callers check membership first (store/groups.py, `need_member` or `readable`): given a group,
these functions read what its members may see. Two decide for themselves: `shared_notes` for a viewer reads
only the groups the viewer belongs to, and `share_note` checks that the one sharing is a member.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, Engine, and_, delete, func, literal, select, union_all

from paperfeed.clock import utcnow
from paperfeed.store.accounts import AccountError, User
from paperfeed.store.collections import by_title
from paperfeed.store.db import insert_ignore
from paperfeed.store.groups import need_member
from paperfeed.store.schema import (
    collections,
    comments,
    group_members,
    group_notes,
    groups,
    hidden_papers,
    library,
    papers,
    upvotes,
    users,
)


# -- what the group sees ----------------------------------------------------------------------------------
def sharing(group_id: int, but: int | None = None):
    """The members who share their upvotes and saves with the group, with when they joined."""
    query = select(group_members.c.user_id, group_members.c.sharing_since).where(
        group_members.c.group_id == group_id, group_members.c.shares_activity.is_(True)
    )
    if but is not None:
        query = query.where(group_members.c.user_id != but)
    return query.subquery()


def events(group_id: int, since: datetime, but: int | None = None):
    """Upvotes and saves of sharing members (but one) since `since`, and since they joined or last turned sharing
    on: (user_id, paper_id, at, kind)."""
    who = sharing(group_id, but)
    voted = (
        select(
            upvotes.c.user_id, upvotes.c.paper_id, upvotes.c.created_at.label("at"), literal("upvoted").label("kind")
        )
        .join(who, who.c.user_id == upvotes.c.user_id)
        .where(upvotes.c.created_at >= since, upvotes.c.created_at >= who.c.sharing_since)
    )
    saved = (
        select(library.c.user_id, library.c.paper_id, library.c.saved_at.label("at"), literal("saved").label("kind"))
        .join(who, who.c.user_id == library.c.user_id)
        .where(library.c.saved_at >= since, library.c.saved_at >= who.c.sharing_since)
    )
    return union_all(voted, saved).subquery()


def picks(conn: Connection, group_id: int, since: datetime, limit: int = 50, but: int | None = None) -> list[dict]:
    """The papers members (but one) upvoted or saved since `since`: the most members first, then the latest."""
    e = events(group_id, since, but)
    rows = conn.execute(
        select(e.c.paper_id, func.count(func.distinct(e.c.user_id)).label("members"), func.max(e.c.at).label("last"))
        .where(e.c.paper_id.not_in(select(hidden_papers.c.paper_id)))
        .group_by(e.c.paper_id)
        .order_by(func.count(func.distinct(e.c.user_id)).desc(), func.max(e.c.at).desc(), e.c.paper_id)
        .limit(limit)
    ).mappings()
    found = [dict(r) for r in rows]
    names = who_picked(conn, group_id, since, [r["paper_id"] for r in found], but)
    return [r | {"by": names.get(r["paper_id"], [])} for r in found]


def who_picked(
    conn: Connection, group_id: int, since: datetime, paper_ids: list[str], but: int | None = None
) -> dict[str, list[str]]:
    e = events(group_id, since, but)
    rows = conn.execute(
        select(e.c.paper_id, users.c.username)
        .join(users, users.c.id == e.c.user_id)
        .where(e.c.paper_id.in_(paper_ids))
        .distinct()
        .order_by(users.c.username)
    )
    names: dict[str, list[str]] = {}
    for pid, name in rows:
        names.setdefault(pid, []).append(name)
    return names


def picked_ids(conn: Connection, group_id: int, start: date | None = None, end: date | None = None) -> set[str]:
    """The papers listed from `start` to `end` that a sharing member upvoted or saved while a member (the "what
    my group picked" filter)."""
    e = events(group_id, datetime(1970, 1, 1))
    query = select(e.c.paper_id).distinct().join(papers, papers.c.id == e.c.paper_id)
    if start is not None:
        query = query.where(papers.c.listed_date >= start)
    if end is not None:
        query = query.where(papers.c.listed_date <= end)
    return set(conn.execute(query).scalars())


def activity(
    conn: Connection,
    group_id: int,
    since: datetime,
    limit: int = 50,
    notes: list | None = None,
    talk: list | None = None,
) -> list[dict]:
    """What happened in the group, newest first: upvotes, saves, shared notes, comments by members, joins.
    `notes` and `talk`: the group's shared notes and members' comments since `since`, if already read."""
    e = events(group_id, since)
    rows = [dict(r) for r in conn.execute(select(e).order_by(e.c.at.desc()).limit(limit)).mappings()]
    notes = shared_notes(conn, group_id, since=since, limit=limit) if notes is None else notes
    notes = [n for n in notes if n["at"] >= since]
    talk = member_comments(conn, group_id, since, limit) if talk is None else talk
    rows += [r | {"kind": "shared a note on"} for r in notes] + [r | {"kind": "commented on"} for r in talk]
    joined = select(group_members.c.user_id, group_members.c.joined_at.label("at")).where(
        group_members.c.group_id == group_id, group_members.c.joined_at >= since
    )
    rows += [dict(r) | {"kind": "joined", "paper_id": None} for r in conn.execute(joined).mappings()]
    rows.sort(key=lambda r: r["at"], reverse=True)
    rows = rows[:limit]
    who = list({r["user_id"] for r in rows})
    what = list({r["paper_id"] for r in rows if r["paper_id"]})
    names = dict(conn.execute(select(users.c.id, users.c.username).where(users.c.id.in_(who))).all())
    titles = dict(conn.execute(select(papers.c.id, papers.c.title).where(papers.c.id.in_(what))).all())
    hidden = set(conn.execute(select(hidden_papers.c.paper_id)).scalars())
    return [
        r | {"username": names.get(r["user_id"], "?"), "title": titles.get(r["paper_id"], "")}
        for r in rows
        if r["paper_id"] not in hidden
    ]


def member_comments(conn: Connection, group_id: int, since: datetime, limit: int = 50) -> list[dict]:
    """Members' readable comments on any paper since `since` (a discussion view across papers)."""
    rows = conn.execute(
        select(
            comments.c.id, comments.c.user_id, comments.c.paper_id, comments.c.html, comments.c.created_at.label("at")
        )
        .join(group_members, group_members.c.user_id == comments.c.user_id)
        .where(
            group_members.c.group_id == group_id,
            comments.c.created_at >= since,
            comments.c.deleted_at.is_(None),
            comments.c.hidden_at.is_(None),
        )
        .order_by(comments.c.created_at.desc())
        .limit(limit)
    ).mappings()
    return [dict(r) for r in rows]


# -- notes shared with a group ---------------------------------------------------------------------------
def share_note(engine: Engine, user: User, paper_id: str, group_id: int, on: bool = True) -> None:
    """Share (or stop sharing) the user's note on a saved paper with one of their groups."""
    with engine.begin() as conn:
        need_member(conn, group_id, user)
        which = and_(
            group_notes.c.group_id == group_id, group_notes.c.user_id == user.id, group_notes.c.paper_id == paper_id
        )
        if not on:
            conn.execute(delete(group_notes).where(which))
            return
        saved = conn.execute(
            select(library.c.note).where(library.c.user_id == user.id, library.c.paper_id == paper_id)
        ).first()
        if saved is None or not saved.note:
            raise AccountError("write a note on the saved paper first, then share it")
        row = {"group_id": group_id, "user_id": user.id, "paper_id": paper_id, "shared_at": utcnow()}
        insert_ignore(conn, group_notes, row)


def shared_notes(
    conn: Connection,
    group_id: int | None = None,
    viewer: User | None = None,
    paper_id: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> list[dict]:
    """Shared notes of one group, or (for `viewer`) of every group they belong to; one paper's or all.
    A note shows while its author is a member and the paper is in their library with a note."""
    query = (
        select(
            group_notes.c.group_id,
            groups.c.name.label("group"),
            group_notes.c.user_id,
            users.c.username,
            group_notes.c.paper_id,
            library.c.note_html,
            group_notes.c.shared_at.label("at"),
        )
        .join(groups, groups.c.id == group_notes.c.group_id)
        .join(users, users.c.id == group_notes.c.user_id)
        .join(library, and_(library.c.user_id == group_notes.c.user_id, library.c.paper_id == group_notes.c.paper_id))
        .join(
            group_members,
            and_(group_members.c.group_id == group_notes.c.group_id, group_members.c.user_id == group_notes.c.user_id),
        )
        .where(library.c.note_html.is_not(None))
        .order_by(group_notes.c.shared_at.desc())
        .limit(limit)
    )
    if group_id is not None:
        query = query.where(group_notes.c.group_id == group_id)
    if viewer is not None:
        theirs = select(group_members.c.group_id).where(group_members.c.user_id == viewer.id)
        query = query.where(group_notes.c.group_id.in_(theirs), group_notes.c.user_id != viewer.id)
    elif group_id is None:
        return []  # nobody's notes without a group or a viewer to read them
    if paper_id is not None:
        query = query.where(group_notes.c.paper_id == paper_id)
    if since is not None:
        query = query.where(group_notes.c.shared_at >= since)
    return [dict(r) for r in conn.execute(query).mappings()]


def note_shared_with(conn: Connection, user: User, paper_id: str) -> set[int]:
    rows = conn.execute(
        select(group_notes.c.group_id).where(group_notes.c.user_id == user.id, group_notes.c.paper_id == paper_id)
    )
    return set(rows.scalars())


def group_collections(conn: Connection, group_id: int) -> list[dict]:
    """The group's collections whose owners are still members."""
    member = and_(group_members.c.group_id == collections.c.group_id, group_members.c.user_id == collections.c.user_id)
    where = and_(collections.c.visibility == "group", collections.c.group_id == group_id)
    return by_title(conn, (group_members, member), where, collections.c.secret)
