"""Groups: labs and reading groups on one instance.

Who sees what is decided here, in one place. A group, its members, picks, activity, shared notes and group
collections are read only through `membership`: for anyone who is not a member every function below answers
None or nothing, and the web answers 404, so a private group's existence is not told. What a member upvotes
and saves *while a member* is shown to the group (its picks and activity) unless they turn that off; notes are
shared one paper at a time. Joining is one conditional UPDATE of the invite (not revoked, not expired, uses
left), so an invite used twice at once, or after its revocation, admits no one it should not.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, delete, func, select, update

from paperfeed import markup
from paperfeed.clock import utcnow
from paperfeed.models import clean_text
from paperfeed.store.accounts import AccountError, User, digest
from paperfeed.store.db import group_lock, insert_ignore, insert_under_cap
from paperfeed.store.schema import (
    collections,
    group_bans,
    group_invites,
    group_members,
    group_notes,
    groups,
    users,
)

MAX_NAME = 100
MAX_DESCRIPTION = 5_000
MAX_MEMBERS = 500
MAX_GROUPS_JOINED = 50
MAX_LIVE_INVITES = 20
INVITE_DAYS = (1, 90)
INVITE_USES = (1, 500)
ROLES = ("owner", "member")


class NotFound(AccountError):
    """Not a member (or no such group): the web answers 404 for both."""


def check(name: str, description: str) -> tuple[str, str]:
    name = " ".join(clean_text(name).split())  # control characters out: a name goes into feeds and OPML
    if not name:
        raise AccountError("give the group a name")
    if len(name) > MAX_NAME:
        raise AccountError(f"a group's name is at most {MAX_NAME} characters")
    description = description.replace("\r\n", "\n").strip()
    if len(description) > MAX_DESCRIPTION:
        raise AccountError(f"a description is at most {MAX_DESCRIPTION:,} characters")
    if "\x00" in name + description:
        raise AccountError("the text contains a NUL character; paste it again as plain text")
    return name, description


# -- making and changing a group ---------------------------------------------------------------------------
def create(engine: Engine, user: User, name: str, description: str = "") -> int:
    """A new group with the user as its owner; its id."""
    name, description = check(name, description)
    now = utcnow()
    row = {"name": name, "description": description, "description_html": render(description), "created_at": now}
    with engine.begin() as conn:
        if joined_count(conn, user.id) >= MAX_GROUPS_JOINED:
            raise AccountError(f"you are in {MAX_GROUPS_JOINED} groups already; leave one first")
        group_id = conn.execute(groups.insert().values(row).returning(groups.c.id)).scalar_one()
        conn.execute(group_members.insert().values(member_row(group_id, user.id, "owner", now)))
    return group_id


def render(description: str) -> str:
    return markup.render(description) if description else ""


def member_row(group_id: int, user_id: int, role: str, now: datetime) -> dict:
    row = {"group_id": group_id, "user_id": user_id, "role": role, "shares_activity": True}
    return row | {"joined_at": now, "sharing_since": now}


def joined_count(conn: Connection, user_id: int) -> int:
    return conn.execute(select(func.count()).where(group_members.c.user_id == user_id)).scalar_one()


def describe(engine: Engine, user: User, group_id: int, name: str, description: str) -> None:
    name, description = check(name, description)
    with engine.begin() as conn:
        need_owner(conn, group_id, user)
        values = {"name": name, "description": description, "description_html": render(description)}
        conn.execute(update(groups).where(groups.c.id == group_id).values(**values))


def remove_group(engine: Engine, user: User, group_id: int) -> None:
    with engine.begin() as conn:
        need_owner(conn, group_id, user)
        conn.execute(update(collections).where(collections.c.group_id == group_id).values(visibility="private"))
        conn.execute(delete(groups).where(groups.c.id == group_id))


# -- who is in it ----------------------------------------------------------------------------------------
def membership(conn: Connection, group_id: int, user: User | None) -> dict | None:
    """The user's membership row (role, shares_activity, joined_at), or None."""
    if user is None:
        return None
    row = (
        conn.execute(
            select(group_members).where(group_members.c.group_id == group_id, group_members.c.user_id == user.id)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def need_member(conn: Connection, group_id: int, user: User | None) -> dict:
    found = membership(conn, group_id, user)
    if found is None:
        raise NotFound("no such group (or you are not a member)")
    return found


def need_owner(conn: Connection, group_id: int, user: User) -> dict:
    found = need_member(conn, group_id, user)
    if found["role"] != "owner":
        raise AccountError("only an owner of the group can do that")
    return found


def readable(conn: Connection, group_id: int, user: User | None) -> dict | None:
    """The group with the viewer's role, if the viewer is a member; None otherwise."""
    mine = membership(conn, group_id, user)
    if mine is None:
        return None
    row = conn.execute(select(groups).where(groups.c.id == group_id)).mappings().first()
    return dict(row) | {"role": mine["role"], "shares_activity": mine["shares_activity"]} if row else None


def of_user(conn: Connection, user: User | int | None) -> list[dict]:
    """The groups the user (or user id) belongs to, with their role and member count, by name."""
    if user is None:
        return []
    user_id = user if isinstance(user, int) else user.id
    theirs = select(group_members.c.group_id).where(group_members.c.user_id == user_id)
    size = (
        select(group_members.c.group_id, func.count().label("members"))
        .where(group_members.c.group_id.in_(theirs))
        .group_by(group_members.c.group_id)
        .subquery()
    )
    rows = conn.execute(
        select(groups.c.id, groups.c.name, group_members.c.role, size.c.members)
        .join(group_members, group_members.c.group_id == groups.c.id)
        .join(size, size.c.group_id == groups.c.id)
        .where(group_members.c.user_id == user_id)
        .order_by(groups.c.name, groups.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def members(conn: Connection, group_id: int) -> list[dict]:
    rows = conn.execute(
        select(users.c.id, users.c.username, group_members.c.role, group_members.c.joined_at)
        .join(group_members, group_members.c.user_id == users.c.id)
        .where(group_members.c.group_id == group_id)
        .order_by(group_members.c.role.desc(), users.c.username)  # owners first
    ).mappings()
    return [dict(r) for r in rows]


def set_role(engine: Engine, user: User, group_id: int, member_id: int, role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"a role is owner or member, not {role[:20]!r}")
    with engine.begin() as conn:
        need_owner(conn, group_id, user)
        group_lock(conn, group_id)
        which = and_(group_members.c.group_id == group_id, group_members.c.user_id == member_id)
        if role == "member":
            which = and_(which, more_owners(group_id))
        if conn.execute(update(group_members).where(which).values(role=role)).rowcount != 1:
            raise AccountError("a group keeps at least one owner" if role == "member" else "not a member")
        if role == "member":
            revoke_made_by(conn, group_id, member_id)


def revoke_made_by(conn: Connection, group_id: int, user_id: int) -> None:
    """The invites someone made stop when they are no longer an owner."""
    mine = and_(group_invites.c.group_id == group_id, group_invites.c.created_by == user_id)
    conn.execute(update(group_invites).where(mine, group_invites.c.revoked_at.is_(None)).values(revoked_at=utcnow()))


def more_owners(group_id: int):
    """True while the group has another owner besides the row being changed (counted in the statement)."""
    owners = (
        select(func.count())
        .select_from(group_members)
        .where(group_members.c.group_id == group_id, group_members.c.role == "owner")
        .scalar_subquery()
    )
    return owners > 1


def leave(engine: Engine, user: User, group_id: int, member_id: int | None = None) -> None:
    """The user leaves, or (an owner) removes a member. The last owner cannot leave a group with members: they
    hand it over or delete it. Their shared notes leave with them."""
    member_id = user.id if member_id is None else member_id
    with engine.begin() as conn:
        mine = need_member(conn, group_id, user)
        if member_id != user.id and mine["role"] != "owner":
            raise AccountError("only an owner of the group can remove a member")
        group_lock(conn, group_id)
        which = and_(group_members.c.group_id == group_id, group_members.c.user_id == member_id)
        if conn.execute(select(group_members.c.user_id).where(which)).first() is None:
            raise AccountError("not a member of the group")
        alone = select(func.count()).where(group_members.c.group_id == group_id).scalar_subquery() == 1
        keeps_owner = (group_members.c.role != "owner") | more_owners(group_id) | alone
        if conn.execute(delete(group_members).where(which, keeps_owner)).rowcount != 1:
            raise AccountError("the last owner cannot leave: make another member an owner, or delete the group")
        conn.execute(delete(group_notes).where(group_notes.c.group_id == group_id, group_notes.c.user_id == member_id))
        revoke_made_by(conn, group_id, member_id)
        if member_id != user.id:  # removed by an owner: their old invite link must not let them back in
            insert_ignore(conn, group_bans, {"group_id": group_id, "user_id": member_id, "banned_at": utcnow()})
        if alone_now(conn, group_id):
            conn.execute(update(collections).where(collections.c.group_id == group_id).values(visibility="private"))
            conn.execute(delete(groups).where(groups.c.id == group_id))


def alone_now(conn: Connection, group_id: int) -> bool:
    return not conn.execute(select(func.count()).where(group_members.c.group_id == group_id)).scalar_one()


def set_sharing(engine: Engine, user: User, group_id: int, on: bool) -> None:
    with engine.begin() as conn:
        need_member(conn, group_id, user)
        which = and_(group_members.c.group_id == group_id, group_members.c.user_id == user.id)
        was = and_(which, group_members.c.shares_activity.is_(not on))
        values = {"shares_activity": on} | ({"sharing_since": utcnow()} if on else {})
        conn.execute(update(group_members).where(was).values(**values))


def let_back(engine: Engine, user: User, group_id: int, member_id: int) -> None:
    """An owner lifts a removal: the person can join again with an invite."""
    with engine.begin() as conn:
        need_owner(conn, group_id, user)
        conn.execute(delete(group_bans).where(group_bans.c.group_id == group_id, group_bans.c.user_id == member_id))


def banned(conn: Connection, group_id: int) -> list[dict]:
    rows = conn.execute(
        select(users.c.id, users.c.username, group_bans.c.banned_at)
        .join(group_bans, group_bans.c.user_id == users.c.id)
        .where(group_bans.c.group_id == group_id)
        .order_by(users.c.username)
    ).mappings()
    return [dict(r) for r in rows]


# -- invites ---------------------------------------------------------------------------------------------
def invite(engine: Engine, user: User, group_id: int, days: int = 7, uses: int = 20) -> str:
    """A new invite link's token (shown once: only its hash is kept)."""
    if not INVITE_DAYS[0] <= days <= INVITE_DAYS[1]:
        raise AccountError(f"an invite lasts {INVITE_DAYS[0]} to {INVITE_DAYS[1]} days")
    if not INVITE_USES[0] <= uses <= INVITE_USES[1]:
        raise AccountError(f"an invite admits {INVITE_USES[0]} to {INVITE_USES[1]} people")
    token = secrets.token_urlsafe(24)
    now = utcnow()
    row = {
        "group_id": group_id,
        "token_hash": digest(token),
        "created_by": user.id,
        "created_at": now,
        "expires_at": now + timedelta(days=days),
        "revoked_at": None,
        "max_uses": uses,
        "uses": 0,
    }
    with engine.begin() as conn:
        need_owner(conn, group_id, user)
        live = and_(group_invites.c.group_id == group_id, usable(now))
        if not insert_under_cap(conn, group_invites, row, live, MAX_LIVE_INVITES):
            raise AccountError(f"a group has at most {MAX_LIVE_INVITES} live invites; revoke some first")
    return token


def usable(now: datetime):
    return and_(
        group_invites.c.revoked_at.is_(None),
        group_invites.c.expires_at > now,
        group_invites.c.uses < group_invites.c.max_uses,
    )


def invites(conn: Connection, group_id: int) -> list[dict]:
    now = utcnow()
    rows = conn.execute(
        select(group_invites, users.c.username.label("by"))
        .outerjoin(users, users.c.id == group_invites.c.created_by)
        .where(group_invites.c.group_id == group_id)
        .order_by(group_invites.c.created_at.desc())
        .limit(50)
    ).mappings()
    live = lambda r: r["revoked_at"] is None and r["expires_at"] > now and r["uses"] < r["max_uses"]  # noqa: E731
    return [dict(r) | {"live": live(r)} for r in rows]


def revoke(engine: Engine, user: User, group_id: int, invite_id: int) -> None:
    with engine.begin() as conn:
        need_owner(conn, group_id, user)
        which = and_(group_invites.c.id == invite_id, group_invites.c.group_id == group_id)
        conn.execute(
            update(group_invites).where(which, group_invites.c.revoked_at.is_(None)).values(revoked_at=utcnow())
        )


def invited_to(conn: Connection, token: str) -> dict | None:
    """The group a still-usable invite leads to (its name only, for the page that asks to join)."""
    found = (
        conn.execute(
            select(groups.c.id, groups.c.name)
            .join(group_invites, group_invites.c.group_id == groups.c.id)
            .where(group_invites.c.token_hash == digest(token), usable(utcnow()))
        )
        .mappings()
        .first()
    )
    return dict(found) if found else None


def join(engine: Engine, user: User, token: str) -> int:
    """Join the group the invite leads to; its id. Already a member: nothing changes (no use is spent)."""
    now = utcnow()
    refused = AccountError("this invite link has expired, been used up or been revoked; ask for a new one")
    with engine.begin() as conn:
        invite_row = conn.execute(
            select(group_invites.c.id, group_invites.c.group_id).where(group_invites.c.token_hash == digest(token))
        ).first()
        if invite_row is None:
            raise refused
        invite_id, group_id = invite_row
        if membership(conn, group_id, user) is not None:
            return group_id
        group_lock(conn, group_id)  # joins at once count one after the other against the cap
        removed = and_(group_bans.c.group_id == group_id, group_bans.c.user_id == user.id)
        if conn.execute(select(group_bans.c.user_id).where(removed)).first() is not None:
            raise AccountError("an owner removed you from this group; ask them to let you back in")
        # The invite is spent and checked in one UPDATE: revoked, expired or used up, it matches no row.
        spent = update(group_invites).where(group_invites.c.id == invite_id, usable(now))
        if conn.execute(spent.values(uses=group_invites.c.uses + 1)).rowcount != 1:
            raise refused
        if joined_count(conn, user.id) >= MAX_GROUPS_JOINED:
            raise AccountError(f"you are in {MAX_GROUPS_JOINED} groups already; leave one first")
        in_group = group_members.c.group_id == group_id
        row = member_row(group_id, user.id, "member", now)
        added = insert_under_cap(conn, group_members, row, in_group, MAX_MEMBERS)
        if not added and membership(conn, group_id, user) is None:  # not a double click that joined already
            raise AccountError(f"the group has {MAX_MEMBERS} members, its limit")
    return group_id
