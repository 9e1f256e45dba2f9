"""Digest subscriptions and saved searches in the store. What a subscription may hold is checked in
digest/subscriptions.py (which also parses saved searches, a job for search/); this module reads and writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from paperfeed.clock import utcnow
from paperfeed.store.accounts import User, user_from_row
from paperfeed.store.schema import saved_searches, subscriptions, users

FIELDS = ("email", "frequency", "hour", "weekday", "timezone", "trending_n", "categories", "authors", "send_empty")


@dataclass
class Subscription:
    user_id: int
    email: str
    frequency: str = "daily"
    hour: int = 8
    weekday: int = 0
    timezone: str = "UTC"
    trending_n: int = 10
    categories: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    send_empty: bool = False
    active: bool = True
    verified_at: datetime | None = None
    bounced_at: datetime | None = None
    bounce_reason: str | None = None
    created_at: datetime | None = None


def from_row(row) -> Subscription:
    return Subscription(**{k: row[k] for k in Subscription.__dataclass_fields__})


def get(engine: Engine, user_id: int) -> Subscription | None:
    with engine.connect() as conn:
        row = conn.execute(select(subscriptions).where(subscriptions.c.user_id == user_id)).mappings().first()
    return from_row(row) if row else None


def of_users(conn: Connection, user_ids: list[int]) -> list[dict]:
    return [
        dict(r) for r in conn.execute(select(subscriptions).where(subscriptions.c.user_id.in_(user_ids))).mappings()
    ]


def write(engine: Engine, sub: Subscription) -> tuple[Subscription, bool]:
    """Create or update the (checked) subscription; True when the address must (again) be verified."""
    now = utcnow()
    old = get(engine, sub.user_id)
    values = {k: getattr(sub, k) for k in (*FIELDS, "active")}
    if old is None or old.email.lower() != sub.email.lower():
        values.update(verified_at=None, bounced_at=None, bounce_reason=None)
    with engine.begin() as conn:
        if old is None:
            conn.execute(insert(subscriptions).values(user_id=sub.user_id, created_at=now, updated_at=now, **values))
        else:
            conn.execute(
                update(subscriptions).where(subscriptions.c.user_id == sub.user_id).values(updated_at=now, **values)
            )
    fresh = get(engine, sub.user_id)
    return fresh, fresh.verified_at is None


def set_active(engine: Engine, user_id: int, active: bool) -> bool:
    with engine.begin() as conn:
        done = conn.execute(
            update(subscriptions).where(subscriptions.c.user_id == user_id).values(active=active, updated_at=utcnow())
        )
    return done.rowcount > 0


def mark_verified(engine: Engine, user_id: int, email: str) -> bool:
    with engine.begin() as conn:
        done = conn.execute(
            update(subscriptions)
            .where(subscriptions.c.user_id == user_id, subscriptions.c.email == email)
            .values(verified_at=utcnow(), bounced_at=None, bounce_reason=None)
        )
    return done.rowcount > 0


def mark_bounced(engine: Engine, user_id: int, reason: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(subscriptions)
            .where(subscriptions.c.user_id == user_id)
            .values(bounced_at=utcnow(), bounce_reason=reason)
        )


def user_of(engine: Engine, user_id: int) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.id == user_id)).first()
    return user_from_row(row) if row else None


def users_by_id(conn: Connection, user_ids: list[int]) -> dict[int, User]:
    return {r.id: user_from_row(r) for r in conn.execute(select(users).where(users.c.id.in_(user_ids)))}


# -- saved searches ---------------------------------------------------------------------------------
class TooMany(ValueError):
    """The user has as many saved searches as allowed."""


def add_search(engine: Engine, user_id: int, title: str, query: str, most: int) -> int:
    with engine.begin() as conn:
        held = conn.execute(select(func.count()).where(saved_searches.c.user_id == user_id)).scalar()
        if held >= most:
            raise TooMany(f"{most} saved searches at most")
        return conn.execute(
            insert(saved_searches).values(user_id=user_id, title=title, query=query, created_at=utcnow())
        ).inserted_primary_key[0]


def searches(engine: Engine, user_id: int) -> list[dict]:
    with engine.connect() as conn:
        return searches_in(conn, [user_id])


def searches_in(conn: Connection, user_ids: list[int]) -> list[dict]:
    query = select(saved_searches).where(saved_searches.c.user_id.in_(user_ids)).order_by(saved_searches.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]


def delete_search(engine: Engine, user_id: int, search_id: int) -> bool:
    with engine.begin() as conn:
        done = conn.execute(
            delete(saved_searches).where(saved_searches.c.id == search_id, saved_searches.c.user_id == user_id)
        )
    return done.rowcount > 0
