"""Users, sessions, tokens, upvotes, libraries and hidden papers: the repository the web app and CLI share.

Secrets (session cookies, API and feed tokens) are random; only their SHA-256 is stored, so a copy of
the database does not log anyone in. Passwords are hashed with argon2.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.clock import utcnow
from paperfeed.store.db import group_lock, insert_ignore
from paperfeed.store.schema import (
    api_tokens,
    collections,
    group_invites,
    group_members,
    groups,
    harvest_state,
    hidden_papers,
    library,
    library_tags,
    outbox,
    saved_searches,
    sessions,
    subscriptions,
    upvotes,
    users,
)

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
EMAIL = re.compile(r"^[^@\s<>,;\"'\r\n]+@[^@\s<>,;\"'\r\n]+\.[A-Za-z]{2,}$")
TAG = re.compile(r"^[\w.+-]{1,64}$")
MIN_PASSWORD = 8
# zxcvbn's score: 0-1 are guessed within about 10^6 tries (common passwords, repeats, keyboard runs),
# which a throttled online attack still gets through; 2 and up resist it.
MIN_STRENGTH = 2
SESSION_DAYS = 30
_hasher = PasswordHasher()
# Each argon2 hash takes ~64 MB and a core for tens of milliseconds: at most this many run at once,
# so a burst of registrations or logins queues instead of exhausting memory and every core.
HASH_SLOTS = threading.BoundedSemaphore(2)
HASH_WAIT = 5.0
FIRST_ADMIN_KEY = "accounts:first-admin"


class AccountError(ValueError):
    """A request about accounts that cannot be done, with a message fit to show the user."""


class Busy(RuntimeError):
    """Too many password checks at once; the caller should answer 503 and ask to retry."""


def _hashing(fn, *args):
    if not HASH_SLOTS.acquire(timeout=HASH_WAIT):
        raise Busy("the server is busy checking passwords; try again in a few seconds")
    try:
        return fn(*args)
    finally:
        HASH_SLOTS.release()


def hash_password(password: str) -> str:
    return _hashing(_hasher.hash, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hashing(_hasher.verify, stored, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class User:
    id: int
    username: str
    email: str | None
    is_admin: bool


def user_from_row(row) -> User:
    return User(row.id, row.username, row.email, bool(row.is_admin))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- users ------------------------------------------------------------------------------------------
def check_password(password: str, username: str = "", email: str | None = None) -> None:
    """At least 8 characters, at most 1024, and not guessable from lists of common passwords, repeats,
    keyboard runs or the user's own name (zxcvbn, offline)."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise AccountError("the password is too long (1024 characters at most)")
    from zxcvbn import zxcvbn  # loaded on first use, not by every command and server start (20 ms)

    # zxcvbn's cost grows with length; a long password's first 100 characters decide.
    verdict = zxcvbn(password[:100], user_inputs=[u for u in (username, email or "") if u])
    if verdict["score"] < MIN_STRENGTH:
        why = verdict["feedback"]["warning"] or "it is too easy to guess"
        raise AccountError(f"choose a harder password: {why.rstrip('.').lower()} (try a few unrelated words)")


def check_username(username: str) -> None:
    if not USERNAME.match(username):
        raise AccountError("a username has 3 to 32 letters, digits, '.', '_' or '-'")


def create_user(
    engine: Engine, username: str, password: str, email: str | None = None, admin: bool = False, first_admin=False
) -> User:
    """A new account. `first_admin`: it administers the install if, and only if, it is the first account,
    decided atomically with the insert (50 registrations at once on a fresh install make one admin)."""
    check_username(username)
    email = (email or "").strip() or None
    if email and not EMAIL.match(email):
        raise AccountError(f"not an email address: {email!r}")
    check_password(password, username, email)
    # A taken name is answered before the costly hash (the insert below still decides a race).
    if username_taken(engine, username):
        raise AccountError(f"the username {username!r} is taken")
    hashed = hash_password(password)
    try:
        with engine.begin() as conn:
            uid = conn.execute(
                insert(users).values(
                    username=username, email=email, password_hash=hashed, is_admin=admin, created_at=utcnow()
                )
            ).inserted_primary_key[0]
            if first_admin and not admin:
                admin = _claim_first_admin(conn, uid)
    except IntegrityError as exc:
        raise AccountError(f"the username {username!r} is taken") from exc
    return User(uid, username, email, admin)


def _claim_first_admin(conn: Connection, uid: int) -> bool:
    """Inside the insert's transaction: no other account exists, and this one wins the one-row claim
    (on SQLite the writer lock already serialises this; on PostgreSQL the claim's key does)."""
    others = conn.execute(select(func.count()).select_from(users).where(users.c.id != uid)).scalar()
    if others:
        return False
    won = insert_ignore(conn, harvest_state, {"key": FIRST_ADMIN_KEY, "value": str(uid), "updated_at": utcnow()})
    if won:
        conn.execute(update(users).where(users.c.id == uid).values(is_admin=True))
    return bool(won)


def username_taken(engine: Engine, username: str) -> bool:
    with engine.connect() as conn:
        return get_user(conn, username) is not None


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as conn:
        return [user_from_row(r) for r in conn.execute(select(users).order_by(users.c.username))]


def _by_name(username: str):
    """Names are one account whatever their case."""
    return select(users).where(func.lower(users.c.username) == username.lower())


def get_user(conn: Connection, username: str) -> User | None:
    row = conn.execute(_by_name(username)).first()
    return user_from_row(row) if row else None


def authenticate(engine: Engine, username: str, password: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(_by_name(username)).first()
    if row is None:
        # Hash anyway, so the answer takes as long whether or not the user exists.
        hash_password(password)
        return None
    return user_from_row(row) if _verify(row.password_hash, password) else None


def change_password(
    engine: Engine, user: User, old: str, new: str, keep_session: str | None = None, revoke_tokens: bool = False
) -> None:
    """Set a new password and end every other session of the user (and, if asked, every API/feed token)."""
    if authenticate(engine, user.username, old) is None:
        raise AccountError("the current password is wrong")
    check_password(new, user.username, user.email)
    hashed = hash_password(new)
    with engine.begin() as conn:
        conn.execute(update(users).where(users.c.id == user.id).values(password_hash=hashed))
        query = delete(sessions).where(sessions.c.user_id == user.id)
        if keep_session:
            query = query.where(sessions.c.token_hash != digest(keep_session))
        conn.execute(query)
        if revoke_tokens:
            conn.execute(delete(api_tokens).where(api_tokens.c.user_id == user.id))


def delete_user(engine: Engine, user: User) -> None:
    """The account and everything it owns (sessions, tokens, votes, library) go; cascades do the rest."""
    with engine.begin() as conn:
        hand_over_groups(conn, user.id)
        for table in (sessions, api_tokens, upvotes, library_tags, library, subscriptions, saved_searches, outbox):
            conn.execute(delete(table).where(table.c.user_id == user.id))
        conn.execute(update(hidden_papers).where(hidden_papers.c.hidden_by == user.id).values(hidden_by=None))
        conn.execute(delete(users).where(users.c.id == user.id))


def hand_over_groups(conn: Connection, user_id: int) -> None:
    """Before an account goes: a group it alone owns passes to its longest-standing other member, and a group it
    alone is in goes too (its collections become private), so no group is left without an owner."""
    # The links they made stop with them (a link does not say who may use it, only who made it).
    made = (group_invites.c.created_by == user_id) & group_invites.c.revoked_at.is_(None)
    conn.execute(update(group_invites).where(made).values(revoked_at=utcnow()))
    theirs = conn.execute(
        select(group_members.c.group_id).where(group_members.c.user_id == user_id, group_members.c.role == "owner")
    ).scalars()
    for group_id in sorted(theirs):
        group_lock(conn, group_id)  # another owner leaving at the same time waits (in id order: no deadlock)
        others = conn.execute(
            select(group_members.c.user_id, group_members.c.role)
            .where(group_members.c.group_id == group_id, group_members.c.user_id != user_id)
            .order_by(group_members.c.joined_at, group_members.c.user_id)
        ).all()
        if not others:
            conn.execute(update(collections).where(collections.c.group_id == group_id).values(visibility="private"))
            conn.execute(delete(groups).where(groups.c.id == group_id))
        elif not any(role == "owner" for _, role in others):
            heir = and_(group_members.c.group_id == group_id, group_members.c.user_id == others[0][0])
            conn.execute(update(group_members).where(heir).values(role="owner"))


def set_admin(engine: Engine, username: str, admin: bool) -> None:
    with engine.begin() as conn:
        named = func.lower(users.c.username) == username.lower()
        if conn.execute(update(users).where(named).values(is_admin=admin)).rowcount == 0:
            raise AccountError(f"no user {username!r}")


# -- sessions and tokens ----------------------------------------------------------------------------
def start_session(engine: Engine, user: User) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(sessions).values(
                token_hash=digest(token),
                user_id=user.id,
                created_at=now,
                expires_at=now + timedelta(days=SESSION_DAYS),
            )
        )
    return token


def session_user(engine: Engine, token: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(users)
            .join(sessions, sessions.c.user_id == users.c.id)
            .where(sessions.c.token_hash == digest(token), sessions.c.expires_at > utcnow())
        ).first()
    return user_from_row(row) if row else None


def end_session(engine: Engine, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(sessions).where(sessions.c.token_hash == digest(token)))


def create_token(engine: Engine, user: User, kind: str, name: str) -> str:
    """A new API ("api") or private-feed ("feed") token; the secret is shown once and stored hashed."""
    name = " ".join(name.split())[:100] or kind
    token = f"pf_{kind}_" + secrets.token_urlsafe(24)
    with engine.begin() as conn:
        conn.execute(
            insert(api_tokens).values(
                user_id=user.id, kind=kind, name=name, token_hash=digest(token), created_at=utcnow()
            )
        )
    return token


def token_user(engine: Engine, token: str, kind: str) -> User | None:
    with engine.begin() as conn:
        row = conn.execute(
            select(users, api_tokens.c.id.label("token_id"))
            .join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(api_tokens.c.token_hash == digest(token), api_tokens.c.kind == kind)
        ).first()
        if row is None:
            return None
        conn.execute(update(api_tokens).where(api_tokens.c.id == row.token_id).values(last_used_at=utcnow()))
    return user_from_row(row)


def list_tokens(engine: Engine, user: User) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                api_tokens.c.id,
                api_tokens.c.kind,
                api_tokens.c.name,
                api_tokens.c.created_at,
                api_tokens.c.last_used_at,
            )
            .where(api_tokens.c.user_id == user.id)
            .order_by(api_tokens.c.id)
        ).mappings()
        return [dict(r) for r in rows]


def revoke_token(engine: Engine, user: User, token_id: int) -> bool:
    with engine.begin() as conn:
        result = conn.execute(delete(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.user_id == user.id))
    return result.rowcount > 0


def revoke_all_tokens(engine: Engine, user: User) -> int:
    with engine.begin() as conn:
        return conn.execute(delete(api_tokens).where(api_tokens.c.user_id == user.id)).rowcount
