"""Webhooks and their deliveries: one row per (hook, listing day), claimed before it is sent, so a day goes to a
hook at most once however many schedulers run (a sender that dies mid-send leaves the row 'sending'; it is
retried after the lease, which can send that one day twice: the only duplicate possible)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, and_, delete, func, or_, select, update

from paperfeed.clock import utcnow
from paperfeed.store.accounts import User
from paperfeed.store.db import insert_ignore, insert_under_cap
from paperfeed.store.schema import hook_deliveries, webhooks

SHAPES = ("json", "slack", "discord")
MAX_HOOKS = 5


@dataclass
class Hook:
    id: int
    user_id: int
    url: str
    shape: str
    top_n: int
    enabled: bool
    disabled_reason: str | None
    last: dict | None = None  # the latest delivery: day, status, attempts, last_error, sent_at


def add_hook(engine: Engine, user: User, url: str, shape: str, top_n: int) -> Hook:
    row = {"user_id": user.id, "url": url, "shape": shape, "top_n": top_n, "enabled": True, "created_at": utcnow()}
    with engine.begin() as conn:
        # The count and the insert in one statement: two requests at once cannot both pass the cap.
        if not insert_under_cap(conn, webhooks, row, webhooks.c.user_id == user.id, MAX_HOOKS):
            raise ValueError(f"at most {MAX_HOOKS} webhooks; remove one first")
        hook_id = conn.scalar(select(func.max(webhooks.c.id)).where(webhooks.c.user_id == user.id))
    return Hook(hook_id, user.id, url, shape, top_n, True, None)


def hooks_of(engine: Engine, user_id: int) -> list[Hook]:
    with engine.connect() as conn:
        rows = conn.execute(select(webhooks).where(webhooks.c.user_id == user_id).order_by(webhooks.c.id)).all()
        found = [_hook(r) for r in rows]
        for hook in found:
            hook.last = _last_delivery(conn, hook.id)
    return found


def _hook(r) -> Hook:
    return Hook(r.id, r.user_id, r.url, r.shape, r.top_n, r.enabled, r.disabled_reason)


def _last_delivery(conn, hook_id: int) -> dict | None:
    d = hook_deliveries.c
    query = select(d.day, d.status, d.attempts, d.last_error, d.sent_at).where(d.hook_id == hook_id)
    row = conn.execute(query.order_by(d.day.desc()).limit(1)).first()
    return row._asdict() if row else None


def remove_hook(engine: Engine, user: User, hook_id: int) -> bool:
    """False when the user has no such hook (another user's hook is no such hook)."""
    with engine.begin() as conn:
        gone = conn.execute(delete(webhooks).where(webhooks.c.id == hook_id, webhooks.c.user_id == user.id))
    return gone.rowcount > 0


def enable_hook(engine: Engine, user: User, hook_id: int) -> bool:
    """On again, from the next day planned: deliveries still waiting from before are dropped, not sent late."""
    query = update(webhooks).where(webhooks.c.id == hook_id, webhooks.c.user_id == user.id)
    with engine.begin() as conn:
        if conn.execute(query.values(enabled=True, disabled_reason=None)).rowcount == 0:
            return False
        d = hook_deliveries.c
        conn.execute(delete(hook_deliveries).where(d.hook_id == hook_id, d.status == "pending"))
        return True


def disable_hook(engine: Engine, hook_id: int, reason: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(webhooks).where(webhooks.c.id == hook_id).values(enabled=False, disabled_reason=reason))


# -- deliveries --------------------------------------------------------------------------------------
def plan_day(engine: Engine, day: date, now: datetime) -> None:
    """A pending delivery of `day` for every enabled hook that has none yet."""
    with engine.begin() as conn:
        ids = list(conn.scalars(select(webhooks.c.id).where(webhooks.c.enabled.is_(True))))
        rows = [{"hook_id": i, "day": day, "status": "pending", "attempts": 0, "next_attempt_at": now} for i in ids]
        if rows:
            insert_ignore(conn, hook_deliveries, rows)


def due(engine: Engine, now: datetime, lease_seconds: float) -> list[tuple[Hook, date]]:
    """Deliveries of enabled hooks that are due: pending and past their time, or 'sending' past the lease (the
    process that claimed them died)."""
    d = hook_deliveries.c
    query = select(webhooks, d.day).join(webhooks, webhooks.c.id == d.hook_id)
    with engine.connect() as conn:
        rows = conn.execute(query.where(_due(now, lease_seconds), webhooks.c.enabled.is_(True))).all()
    return [(_hook(r), r.day) for r in rows]


def _due(now: datetime, lease_seconds: float):
    d = hook_deliveries.c
    stale = now - timedelta(seconds=lease_seconds)
    return or_(and_(d.status == "pending", d.next_attempt_at <= now), and_(d.status == "sending", d.claimed_at < stale))


def take(engine: Engine, hook_id: int, day: date, now: datetime, lease_seconds: float) -> int | None:
    """Claim one delivery right before sending it: the attempt number, or None when another process has it.
    The same condition in the UPDATE: of two schedulers, one changes the row and the other none. Counting the
    attempt here bounds the retries of a send that kills its process."""
    d = hook_deliveries.c
    query = update(hook_deliveries).where(d.hook_id == hook_id, d.day == day, _due(now, lease_seconds))
    with engine.begin() as conn:
        if conn.execute(query.values(status="sending", claimed_at=now, attempts=d.attempts + 1)).rowcount != 1:
            return None
        return conn.scalar(select(d.attempts).where(d.hook_id == hook_id, d.day == day))


def finish(engine: Engine, hook_id: int, day: date, claimed_at: datetime, **values) -> bool:
    """Record the outcome, if this claim still holds the row (a late sender never overwrites a newer one)."""
    d = hook_deliveries.c
    mine = and_(d.hook_id == hook_id, d.day == day, d.status == "sending", d.claimed_at == claimed_at)
    with engine.begin() as conn:
        return conn.execute(update(hook_deliveries).where(mine).values(**values)).rowcount == 1
