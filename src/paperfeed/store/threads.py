"""Reading discussions (store/discussions.py writes them): a paper's threads, whole or by page, as a viewer may
see them (a deleted or hidden comment reads "[deleted]" or "[hidden by an admin]" and stays only while it
has replies; admins read hidden text), comment counts, recently discussed papers, a user's comments and the
admin's queue of reported comments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, literal, select

from paperfeed.store.accounts import User
from paperfeed.store.discussions import live
from paperfeed.store.schema import (
    comment_edits,
    comment_reports,
    comments,
    hidden_papers,
    users,
)


def thread(conn: Connection, paper_id: str, viewer: User | None, only=None) -> list[dict]:
    """The paper's comments, oldest first, each top-level one with its `replies`. Deleted ones read
    "[deleted]"; hidden ones "[hidden by an admin]" except to admins, who see the text, the reports and the
    earlier texts. `only`: a condition that picks some threads (a page of them)."""
    query = (
        select(comments, users.c.username)
        .select_from(comments.outerjoin(users, users.c.id == comments.c.user_id))
        .where(comments.c.paper_id == paper_id)
        .order_by(comments.c.created_at, comments.c.id)
    )
    rows = conn.execute(query if only is None else query.where(only)).mappings()
    admin = bool(viewer and viewer.is_admin)
    out: list[dict] = []
    by_id: dict[int, dict] = {}
    for r in rows:
        c = shown(dict(r), viewer, admin)
        by_id[c["id"]] = c
        parent = by_id.get(c["parent_id"]) if c["parent_id"] else None
        (parent["replies"] if parent else out).append(c)
    if admin and by_id:
        attach_moderation(conn, by_id)
    return [c for c in out if c["replies"] or not c["gone"]]


@dataclass
class ThreadPage:
    threads: list[dict]
    page: int
    pages: int
    total: int  # top-level comments, on every page


def thread_page(
    conn: Connection,
    paper_id: str,
    viewer: User | None,
    size: int,
    page: int | None = None,
    around: int | None = None,
    clamp: bool = True,
) -> ThreadPage:
    """One page of `size` top-level comments (with all their replies), oldest first. Without a page: the one
    holding comment `around` (a link to a comment), else the last page, where new comments land. A page past
    the last: the last one (`clamp`), or none. Counted as shown: a deleted or hidden comment without replies is
    on no page (it is not shown)."""
    tops = list(conn.execute(shown_tops(paper_id, bool(viewer and viewer.is_admin))).scalars())
    pages = max(1, -(-len(tops) // size))
    if page is None and around is not None:
        top = conn.execute(
            select(func.coalesce(comments.c.parent_id, comments.c.id)).where(
                comments.c.id == around, comments.c.paper_id == paper_id
            )
        ).scalar()
        page = tops.index(top) // size + 1 if top in tops else None
    page = page or pages
    if page > pages and clamp:
        page = pages
    chosen = tops[(page - 1) * size : page * size]
    if not chosen:
        return ThreadPage([], page, pages, len(tops))
    only = comments.c.id.in_(chosen) | comments.c.parent_id.in_(chosen)
    return ThreadPage(thread(conn, paper_id, viewer, only), page, pages, len(tops))


def shown_tops(paper_id: str, admin: bool):
    """The paper's top-level comments a reader sees, oldest first: those still readable (hidden ones too, for
    admins) and those with replies (shown as "[deleted]" above them)."""
    replies = comments.alias("replies")
    answered = select(replies.c.id).where(replies.c.parent_id == comments.c.id).exists()
    readable = comments.c.deleted_at.is_(None) & (literal(admin) | comments.c.hidden_at.is_(None))
    return (
        select(comments.c.id)
        .where(comments.c.paper_id == paper_id, comments.c.parent_id.is_(None), readable | answered)
        .order_by(comments.c.created_at, comments.c.id)
    )


def latest_threads(conn: Connection, paper_id: str, viewer: User | None, n: int) -> list[dict]:
    """The `n` threads with the latest activity (a new top-level comment or a new reply), with their replies:
    a thread's feed, where a new reply in an old thread must show too."""
    replies = comments.alias("replies")
    latest = func.max(func.coalesce(replies.c.created_at, comments.c.created_at))
    active = (
        select(comments.c.id)
        .select_from(comments.outerjoin(replies, replies.c.parent_id == comments.c.id))
        .where(comments.c.paper_id == paper_id, comments.c.parent_id.is_(None))
        .group_by(comments.c.id)
        .order_by(latest.desc(), comments.c.id.desc())
        .limit(n)
    )
    chosen = list(conn.execute(active).scalars())
    return thread(conn, paper_id, viewer, comments.c.id.in_(chosen) | comments.c.parent_id.in_(chosen))


def shown(c: dict, viewer: User | None, admin: bool) -> dict:
    c["replies"] = []
    c["mine"] = bool(viewer and c["user_id"] == viewer.id and not c["deleted_at"])
    c["gone"] = bool(c["deleted_at"] or (c["hidden_at"] and not admin))
    if c["deleted_at"]:
        c["html"] = ""
        c["body"] = ""
        c["status"] = "[deleted]"
    elif c["hidden_at"]:
        c["status"] = "[hidden by an admin]"
        if not admin:
            c["html"] = ""
            c["body"] = ""
    else:
        c["status"] = ""
    name = c.pop("username")
    c["author"] = "" if c["gone"] else (name or "[deleted account]")
    return c


def attach_moderation(conn: Connection, by_id: dict[int, dict]) -> None:
    ids = list(by_id)
    for cid, reason in conn.execute(
        select(comment_reports.c.comment_id, comment_reports.c.reason).where(comment_reports.c.comment_id.in_(ids))
    ):
        by_id[cid].setdefault("reports", []).append(reason)
    for cid, body, when in conn.execute(
        select(comment_edits.c.comment_id, comment_edits.c.body, comment_edits.c.replaced_at)
        .where(comment_edits.c.comment_id.in_(ids))
        .order_by(comment_edits.c.id)
    ):
        by_id[cid].setdefault("history", []).append({"body": body, "replaced_at": when})


def counts(conn: Connection, paper_ids: list[str]) -> dict[str, int]:
    """paper id -> comments here that anyone can read (not deleted, not hidden)."""
    if not paper_ids:
        return {}
    rows = conn.execute(
        select(comments.c.paper_id, func.count())
        .where(comments.c.paper_id.in_(paper_ids), live())
        .group_by(comments.c.paper_id)
    )
    return {pid: n for pid, n in rows}


def discussed(conn: Connection, since: datetime, limit: int = 50) -> list[tuple[str, int, datetime]]:
    """(paper id, readable comments, newest comment) of the visible papers with comments since `since`,
    most recently discussed first."""
    newest = func.max(comments.c.created_at)
    rows = conn.execute(
        select(comments.c.paper_id, func.count(), newest)
        .where(live(), comments.c.paper_id.not_in(select(hidden_papers.c.paper_id)))
        .group_by(comments.c.paper_id)
        .having(newest >= since)
        .order_by(newest.desc(), comments.c.paper_id)
        .limit(limit)
    )
    return [tuple(r) for r in rows]


def comment(conn: Connection, comment_id: int) -> dict | None:
    row = conn.execute(select(comments).where(comments.c.id == comment_id)).mappings().first()
    return dict(row) if row else None


def reported(conn: Connection, limit: int = 200) -> list[dict]:
    """The admin queue: comments with open reports, most reported first, with the reasons."""
    n = func.count(comment_reports.c.user_id)
    rows = conn.execute(
        select(comments, users.c.username, n.label("reports"))
        .select_from(
            comments.join(comment_reports, comment_reports.c.comment_id == comments.c.id).outerjoin(
                users, users.c.id == comments.c.user_id
            )
        )
        .where(comments.c.deleted_at.is_(None))
        .group_by(*comments.c, users.c.username)
        .order_by(n.desc(), comments.c.id)
        .limit(limit)
    ).mappings()
    out = [dict(r) for r in rows]
    reasons: dict[int, list[str]] = {}
    for cid, reason in conn.execute(
        select(comment_reports.c.comment_id, comment_reports.c.reason).where(
            comment_reports.c.comment_id.in_([c["id"] for c in out])
        )
    ):
        reasons.setdefault(cid, []).append(reason)
    for c in out:
        c["reasons"] = reasons.get(c["id"], [])
        c["author"] = c.pop("username") or "[deleted account]"
    return out


def by_user(conn: Connection, user_id: int, limit: int = 50) -> list[dict]:
    rows = conn.execute(
        select(comments).where(comments.c.user_id == user_id, live()).order_by(comments.c.id.desc()).limit(limit)
    )
    return [dict(r) for r in rows.mappings()]
