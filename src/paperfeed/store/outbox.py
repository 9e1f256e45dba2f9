"""The digest outbox in the store: one row per (user, period) or verification slot, and the conditional
UPDATEs that let several senders share it. What the rows mean, and the delivery loop, are digest/outbox.py's.

- `insert_many` / `insert_verification`: the outbox's unique key decides which of two composers writes a row.
- `claim`: pending -> sending in one conditional UPDATE, so two senders never take the same row.
- `release`: sending -> pending only while the row is still held by the claim that was found stale.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.clock import utcnow
from paperfeed.store import subscriptions as subs
from paperfeed.store.accounts import User
from paperfeed.store.schema import outbox, subscriptions


def due_user_ids(engine: Engine) -> list[int]:
    """Users with an active, verified, not bounced subscription, in id order."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(subscriptions.c.user_id)
                .where(
                    subscriptions.c.active.is_(True),
                    subscriptions.c.verified_at.is_not(None),
                    subscriptions.c.bounced_at.is_(None),
                )
                .order_by(subscriptions.c.user_id)
            ).scalars()
        )


def subscriptions_of(engine: Engine, user_ids: list[int]) -> dict[int, subs.Subscription]:
    with engine.connect() as conn:
        return {r["user_id"]: subs.from_row(r) for r in subs.of_users(conn, user_ids)}


def chunk_state(
    engine: Engine, user_ids: list[int], keys: set[str]
) -> tuple[set[tuple[int, str]], dict[int, User], dict[int, list[dict]], dict[int, tuple[list[str], date | None]]]:
    """For composing a chunk of users: the (user, period) pairs already in the outbox among `keys`, the users,
    their saved searches, and each one's previous digest (paper ids, covered_until)."""
    with engine.connect() as conn:
        query = select(outbox.c.user_id, outbox.c.period).where(
            outbox.c.user_id.in_(user_ids), outbox.c.period.in_(keys)
        )
        done = {(uid, key) for uid, key in conn.execute(query)}
        people = subs.users_by_id(conn, user_ids)
        saved: dict[int, list[dict]] = {}
        for r in subs.searches_in(conn, user_ids):
            saved.setdefault(r["user_id"], []).append(r)
        latest = select(func.max(outbox.c.id)).where(outbox.c.user_id.in_(user_ids), outbox.c.kind == "digest")
        last = {
            r.user_id: (r.paper_ids, r.covered_until)
            for r in conn.execute(
                select(outbox.c.user_id, outbox.c.paper_ids, outbox.c.covered_until).where(
                    outbox.c.id.in_(latest.group_by(outbox.c.user_id))
                )
            )
        }
    return done, people, saved, last


def stored_message(engine: Engine, user_id: int, period: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(outbox.c.message).where(outbox.c.user_id == user_id, outbox.c.period == period)
        ).scalar()


def new_row(user_id, period, kind, status, to, message, paper_ids, covered, error=None) -> dict:
    # Every row has every key: an insert of many rows takes its columns from the first.
    now = utcnow()
    return {
        "user_id": user_id,
        "period": period,
        "kind": kind,
        "status": status,
        "to_addr": to,
        "message": message,
        "paper_ids": paper_ids,
        "covered_until": covered,
        "attempts": 0,
        "last_error": error,
        "next_attempt_at": now,
        "created_at": now,
    }


def insert_many(engine: Engine, rows: list[dict]) -> int:
    """Insert in one transaction; if another process composed some of these meanwhile, row by row."""
    if not rows:
        return 0
    try:
        with engine.begin() as conn:
            conn.execute(insert(outbox), rows)
        return len(rows)
    except IntegrityError:
        added = 0
        for row in rows:
            try:
                with engine.begin() as conn:
                    conn.execute(insert(outbox), [row])
                added += 1
            except IntegrityError:
                pass  # another process composed this period first
        return added


class _TooMany(Exception):
    """Rolls the insert back."""


def insert_verification(engine: Engine, row: dict, per_hour: int, now: datetime) -> bool:
    """Queue a verification message; False when its slot's row exists (the unique key) or the user would have
    more than `per_hour` in the last hour (counted in the same transaction as the insert)."""
    recent = select(func.count()).where(
        outbox.c.user_id == row["user_id"], outbox.c.kind == "verify", outbox.c.created_at > now - timedelta(hours=1)
    )
    try:
        with engine.begin() as conn:
            conn.execute(insert(outbox), [row])
            if conn.execute(recent).scalar() > per_hour:
                raise _TooMany
    except (IntegrityError, _TooMany):
        return False
    return True


# -- sending ----------------------------------------------------------------------------------------
def sending(engine: Engine) -> list[tuple[int, str | None, datetime | None]]:
    """(id, claimed_by, claimed_at) of every row being sent."""
    with engine.connect() as conn:
        query = select(outbox.c.id, outbox.c.claimed_by, outbox.c.claimed_at).where(outbox.c.status == "sending")
        return [tuple(r) for r in conn.execute(query)]


def release(engine: Engine, row_id: int, claimed_by: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == row_id, outbox.c.status == "sending", outbox.c.claimed_by == claimed_by)
            .values(status="pending", claimed_by=None, claimed_at=None)
        )


def due_ids(engine: Engine, limit: int) -> list[int]:
    with engine.connect() as conn:
        return (
            conn.execute(
                select(outbox.c.id)
                .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= utcnow())
                .order_by(outbox.c.id)
                .limit(limit)
            )
            .scalars()
            .all()
        )


def claim(engine: Engine, row_id: int, me: str) -> bool:
    with engine.begin() as conn:
        done = conn.execute(
            update(outbox)
            .where(outbox.c.id == row_id, outbox.c.status == "pending")
            .values(status="sending", claimed_by=me, claimed_at=utcnow())
        )
    return done.rowcount == 1


def row(engine: Engine, row_id: int):
    with engine.connect() as conn:
        return conn.execute(select(outbox).where(outbox.c.id == row_id)).first()


def finish(engine: Engine, row_id: int, **values) -> None:
    with engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == row_id).values(claimed_by=None, **values))


def pending_state(engine: Engine) -> tuple[int, datetime | None]:
    with engine.connect() as conn:
        n, earliest = conn.execute(
            select(func.count(), func.min(outbox.c.next_attempt_at)).where(outbox.c.status == "pending")
        ).one()
    return n, earliest


# -- what people see of it ----------------------------------------------------------------------------
def recent_of(engine: Engine, user_id: int, n: int = 10) -> list[dict]:
    """A user's latest outbox rows (newest first): period, kind, status, sent_at, attempts, last_error."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                outbox.c.period,
                outbox.c.kind,
                outbox.c.status,
                outbox.c.sent_at,
                outbox.c.attempts,
                outbox.c.last_error,
            )
            .where(outbox.c.user_id == user_id)
            .order_by(outbox.c.id.desc())
            .limit(n)
        ).mappings()
        return [dict(r) for r in rows]


def status_counts(engine: Engine, failures: int = 10) -> tuple[list[tuple[str, int]], list[tuple]]:
    """(status, count) pairs, and the latest failures as (user_id, period, last_error)."""
    with engine.connect() as conn:
        counts = [tuple(r) for r in conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))]
        failed = conn.execute(
            select(outbox.c.user_id, outbox.c.period, outbox.c.last_error)
            .where(outbox.c.status == "failed")
            .order_by(outbox.c.id.desc())
            .limit(failures)
        ).all()
    return counts, [tuple(r) for r in failed]
