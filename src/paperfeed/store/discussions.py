"""Discussions under papers: comments with one level of replies, edits (earlier texts kept for admins), soft
deletes, reports and the admin's hide/restore, and the notifications of replies and @-mentions. Reading
them (threads by page, counts, the reports queue) is store/threads.py.

Every write that depends on a check is one statement or one transaction that holds the check: a comment is
inserted only while its author is under the rate limit (counted in the INSERT itself, serialised per author
on PostgreSQL); an edit or delete is an UPDATE that names the author and a live comment, so another user's
comment, or one deleted meanwhile, is simply not changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, DateTime, Engine, and_, delete, func, insert, literal, or_, select, update

from paperfeed import markup
from paperfeed.clock import utcnow
from paperfeed.store.accounts import User
from paperfeed.store.db import insert_ignore, insert_under_caps
from paperfeed.store.schema import (
    comment_edits,
    comment_reports,
    comments,
    hidden_papers,
    notifications,
    papers,
    users,
)

MAX_CHARS = 10_000  # about two pages of text: a comment, not a paper
MAX_REASON = 500
MAX_EDITS = 50  # earlier texts kept per comment: editing cannot grow the store without bound
COMMENT_LOCK = 0x636F6D6D << 20  # advisory lock keys of the comment rate limit, one per author


class DiscussionError(ValueError):
    """A comment that cannot be written or changed, with a sentence fit to show the user."""


class NotFound(DiscussionError):
    """No such comment (or not one this user may change): 404."""


class RateLimited(DiscussionError):
    """Over the author's comments per minute or hour: 429."""


@dataclass(frozen=True)
class Limits:
    per_minute: int = 5
    per_hour: int = 60


def check_body(body: str) -> str:
    text = body.replace("\r\n", "\n").strip()
    if not text:
        raise DiscussionError("write something first: the comment is empty")
    if len(text) > MAX_CHARS:
        raise DiscussionError(f"a comment is at most {MAX_CHARS:,} characters; this one has {len(text):,}")
    if "\x00" in text:
        raise DiscussionError("the comment contains a NUL character; paste it again as plain text")
    return text


def known_users(conn: Connection, names: list[str], but: int | None = None) -> dict[str, int]:
    """lower(username) -> id for those of `names` who have an account (not `but`, the author)."""
    if not names:
        return {}
    wanted = [n.lower() for n in names]
    rows = conn.execute(select(users.c.id, users.c.username).where(func.lower(users.c.username).in_(wanted)))
    return {name.lower(): uid for uid, name in rows if uid != but}


def post(engine: Engine, user: User, paper_id: str, body: str, reply_to: int | None, limits: Limits) -> int:
    """A new comment (or a reply: to a reply, it joins the same top-level thread); its id. Notifies the
    author of the comment replied to and everyone mentioned, once each."""
    text = check_body(body)
    now = utcnow()
    with engine.begin() as conn:
        if conn.execute(select(papers.c.id).where(papers.c.id == paper_id)).first() is None:
            raise NotFound(f"no paper {paper_id[:80]} here")
        parent = top_level(conn, paper_id, reply_to) if reply_to is not None else None
        named = known_users(conn, markup.mentions(text))
        row = {
            "paper_id": paper_id,
            "user_id": user.id,
            "parent_id": parent["id"] if parent else None,
            "body": text,
            "html": markup.render(text, named),
            "created_at": now,
        }
        new_id = insert_limited(conn, user, row, limits)
        targets = {uid: "mention" for uid in named.values() if uid != user.id}
        if parent and parent["user_id"] and parent["user_id"] != user.id:
            targets[parent["user_id"]] = "reply"
        notify(conn, new_id, targets, now)
        return new_id


def insert_limited(conn: Connection, user: User, row: dict, limits: Limits) -> int:
    """Insert the comment while its author is under both rate limits, counted in the INSERT itself. On
    PostgreSQL a transaction-scoped lock per author first makes two posts at once count one after the other
    (each INSERT then sees the other's committed row); SQLite writes one statement at a time already."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(COMMENT_LOCK + user.id)))
    now = row["created_at"]
    windows = [(60, limits.per_minute, "a minute"), (3600, limits.per_hour, "an hour")]
    caps = [(recent(user.id, now, seconds), cap) for seconds, cap, _ in windows]
    new_id = insert_under_caps(conn, comments, row, caps, comments.c.id)
    if new_id is None:
        full = [
            (cap, label) for (_, cap, label), (mine, _) in zip(windows, caps, strict=True) if count(conn, mine) >= cap
        ]
        cap, label = (full or [windows[0][1:]])[0]
        raise RateLimited(f"at most {cap} comments in {label}; wait a little and post it again")
    return new_id


def recent(user_id: int, now: datetime, seconds: int):
    return and_(comments.c.user_id == user_id, comments.c.created_at > now - timedelta(seconds=seconds))


def count(conn: Connection, where) -> int:
    return conn.execute(select(func.count()).select_from(comments).where(where)).scalar_one()


def top_level(conn: Connection, paper_id: str, comment_id: int) -> dict:
    row = conn.execute(
        select(comments.c.id, comments.c.parent_id, comments.c.user_id).where(
            comments.c.id == comment_id, comments.c.paper_id == paper_id
        )
    ).first()
    if row is None:
        raise NotFound("the comment you replied to is not on this paper")
    # A reply to a reply goes under the same top-level comment, and notifies the author it answered (unless
    # that comment was deleted or hidden since).
    answered = conn.execute(select(comments.c.id).where(comments.c.id == comment_id, live())).first()
    return {"id": row.parent_id or row.id, "user_id": row.user_id if answered else None}


def notify(conn: Connection, comment_id: int, targets: dict[int, str], now: datetime) -> None:
    """Notify these users of the comment, once each, and no more than MAX_MENTIONS + 1 (a reply) in all."""
    sent = {
        uid for (uid,) in conn.execute(select(notifications.c.user_id).where(notifications.c.comment_id == comment_id))
    }
    room = max(0, markup.MAX_MENTIONS + 1 - len(sent))
    targets = dict(list({u: k for u, k in targets.items() if u not in sent}.items())[:room])
    rows = [
        {"user_id": uid, "comment_id": comment_id, "kind": kind, "created_at": now} for uid, kind in targets.items()
    ]
    if rows:
        insert_ignore(conn, notifications, rows)


def edit(engine: Engine, user: User, comment_id: int, body: str) -> str:
    """Replace the text of the user's own live comment (the earlier text is kept for admins); its paper id.
    Someone mentioned for the first time is notified (a comment notifies MAX_MENTIONS people at most, however
    often it is edited)."""
    text = check_body(body)
    now = utcnow()
    with engine.begin() as conn:
        hold(conn, comment_id)
        if count_edits(conn, comment_id) >= MAX_EDITS:
            raise DiscussionError(f"a comment can be edited {MAX_EDITS} times; write a new one instead")
        named = known_users(conn, markup.mentions(text))
        keep_text(conn, and_(own_live(comment_id, user), comments.c.body != text), now)
        changed = conn.execute(
            update(comments)
            .where(own_live(comment_id, user))
            .values(body=text, html=markup.render(text, named), edited_at=now)
        ).rowcount
        if changed != 1:
            raise NotFound("that comment is not yours, or was deleted")
        notify(conn, comment_id, {uid: "mention" for uid in named.values() if uid != user.id}, now)
        return paper_of(conn, comment_id)


def hold(conn: Connection, comment_id: int) -> None:
    """PostgreSQL: lock the comment's row until the transaction ends, so two edits (or an edit and a delete)
    at once keep each text replaced in the history. SQLite writes one transaction at a time already."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(comments.c.id).where(comments.c.id == comment_id).with_for_update())


def keep_text(conn: Connection, which, now: datetime) -> None:
    """Copy the current text of the comment `which` selects into its history, read in the same statement."""
    current = select(comments.c.id, comments.c.body, literal(now, DateTime)).where(which)
    conn.execute(insert(comment_edits).from_select(["comment_id", "body", "replaced_at"], current))


def paper_of(conn: Connection, comment_id: int) -> str:
    return conn.execute(select(comments.c.paper_id).where(comments.c.id == comment_id)).scalar_one()


def count_edits(conn: Connection, comment_id: int) -> int:
    return conn.execute(
        select(func.count()).select_from(comment_edits).where(comment_edits.c.comment_id == comment_id)
    ).scalar_one()


def remove(engine: Engine, user: User, comment_id: int) -> str:
    """Delete the user's own comment: it shows as "[deleted]" and its replies stay; its text is kept for
    admins only. Its paper id."""
    now = utcnow()
    with engine.begin() as conn:
        hold(conn, comment_id)
        keep_text(conn, own_live(comment_id, user), now)
        changed = conn.execute(
            update(comments).where(own_live(comment_id, user)).values(body="", html="", deleted_at=now)
        ).rowcount
        if changed != 1:
            raise NotFound("that comment is not yours, or was deleted already")
        conn.execute(delete(notifications).where(notifications.c.comment_id == comment_id))
        return paper_of(conn, comment_id)


def own_live(comment_id: int, user: User):
    return and_(comments.c.id == comment_id, comments.c.user_id == user.id, comments.c.deleted_at.is_(None))


def report(engine: Engine, user: User, comment_id: int, reason: str) -> str:
    """Flag someone else's comment for the admins (once per reader); its paper id."""
    reason = " ".join(reason.split())[:MAX_REASON] or "no reason given"
    with engine.begin() as conn:
        row = conn.execute(
            select(comments.c.paper_id, comments.c.user_id).where(comments.c.id == comment_id, live())
        ).first()
        if row is None:
            raise NotFound("no such comment")
        if row.user_id == user.id:
            raise DiscussionError("you cannot report your own comment; edit or delete it instead")
        insert_ignore(
            conn,
            comment_reports,
            {"comment_id": comment_id, "user_id": user.id, "reason": reason, "created_at": utcnow()},
        )
        return row.paper_id


def set_hidden(engine: Engine, comment_id: int, hidden: bool) -> str:
    """An admin's decision: hide the comment (its replies stay) or show it again; either way its reports are
    settled. Its paper id."""
    with engine.begin() as conn:
        row = conn.execute(select(comments.c.paper_id).where(comments.c.id == comment_id)).first()
        if row is None:
            raise NotFound("no such comment")
        conn.execute(update(comments).where(comments.c.id == comment_id).values(hidden_at=utcnow() if hidden else None))
        conn.execute(delete(comment_reports).where(comment_reports.c.comment_id == comment_id))
        return row.paper_id


def live():
    return and_(comments.c.deleted_at.is_(None), comments.c.hidden_at.is_(None))


# -- notifications --------------------------------------------------------------------------------------------
def unread(conn: Connection, user_id: int) -> int:
    return conn.execute(
        select(func.count())
        .select_from(notifications.join(comments, comments.c.id == notifications.c.comment_id))
        .where(
            notifications.c.user_id == user_id,
            notifications.c.read_at.is_(None),
            live(),
            comments.c.paper_id.not_in(select(hidden_papers.c.paper_id)),
        )
    ).scalar_one()


def inbox(conn: Connection, user_id: int, limit: int = 100, since: datetime | None = None) -> list[dict]:
    """The user's notifications, newest first: kind, who wrote, on which paper, the comment's text, read or
    not. Only comments still readable (not deleted or hidden since), on papers not hidden."""
    query = (
        select(
            notifications.c.id,
            notifications.c.kind,
            notifications.c.created_at,
            notifications.c.read_at,
            comments.c.id.label("comment_id"),
            comments.c.paper_id,
            comments.c.html,
            comments.c.body,
            users.c.username.label("author"),
        )
        .select_from(
            notifications.join(comments, comments.c.id == notifications.c.comment_id).outerjoin(
                users, users.c.id == comments.c.user_id
            )
        )
        .where(notifications.c.user_id == user_id, live(), comments.c.paper_id.not_in(select(hidden_papers.c.paper_id)))
        .order_by(notifications.c.id.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(notifications.c.created_at >= since)
    return [dict(r) for r in conn.execute(query).mappings()]


def mark_read(engine: Engine, user_id: int, up_to: int | None = None) -> int:
    """Mark the user's notifications read (those up to id `up_to`, else all): the count marked."""
    mine = and_(notifications.c.user_id == user_id, notifications.c.read_at.is_(None))
    if up_to is not None:
        mine = and_(mine, notifications.c.id <= up_to)
    with engine.begin() as conn:
        return conn.execute(update(notifications).where(mine).values(read_at=utcnow())).rowcount


def commenters(conn: Connection, paper_ids: list[str]) -> dict[str, int]:
    """paper id -> people with a readable comment on it (what trending counts)."""
    if not paper_ids:
        return {}
    rows = conn.execute(
        select(comments.c.paper_id, func.count(func.distinct(comments.c.user_id)))
        .where(comments.c.paper_id.in_(paper_ids), live(), or_(comments.c.user_id.is_not(None)))
        .group_by(comments.c.paper_id)
    )
    return {pid: n for pid, n in rows}
