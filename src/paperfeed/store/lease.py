"""A named lease in the store: one holder at a time across processes and machines (sync, for instance).

The row's `updated_at` is the lease's expiry. Taking it is one conditional UPDATE (free, expired, or already
ours), so two processes asking at once cannot both win, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, select, update

from paperfeed.store.db import insert_ignore
from paperfeed.store.schema import harvest_state

FREE = datetime(1970, 1, 1)


def _key(name: str) -> str:
    return f"lease:{name}"


def acquire(engine: Engine, name: str, holder: str, seconds: float, now: datetime, dead: str = "") -> bool:
    """Take the lease if it is free, expired or already ours (or held by `dead`, a holder known to be gone)."""
    row = harvest_state.c
    with engine.begin() as conn:
        insert_ignore(conn, harvest_state, {"key": _key(name), "value": "", "updated_at": FREE})
        mine = (
            or_(row.updated_at < now, row.value == holder, row.value == dead)
            if dead
            else or_(row.updated_at < now, row.value == holder)
        )
        taken = conn.execute(
            update(harvest_state)
            .where(row.key == _key(name), mine)
            .values(value=holder, updated_at=now + timedelta(seconds=seconds))
        )
        return taken.rowcount == 1


def holder_of(engine: Engine, name: str) -> str:
    with engine.connect() as conn:
        return conn.scalar(select(harvest_state.c.value).where(harvest_state.c.key == _key(name))) or ""


def release(engine: Engine, name: str, holder: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(harvest_state)
            .where(harvest_state.c.key == _key(name), harvest_state.c.value == holder)
            .values(updated_at=FREE)
        )


def held(engine: Engine, name: str, now: datetime) -> bool:
    with engine.connect() as conn:
        until = conn.scalar(
            harvest_state.select()
            .with_only_columns(harvest_state.c.updated_at)
            .where(harvest_state.c.key == _key(name))
        )
    return until is not None and until > now


def renew(conn, name: str, holder: str, seconds: float, now: datetime) -> bool:
    """Extend our lease inside the caller's transaction; False when it is no longer ours (it expired and
    another holder took it), and then the caller must stop and roll back."""
    row = harvest_state.c
    renewed = conn.execute(
        update(harvest_state)
        .where(row.key == _key(name), row.value == holder)
        .values(updated_at=now + timedelta(seconds=seconds))
    )
    return renewed.rowcount == 1


def alive(pid: int) -> bool:
    """Whether a process of this host (and pid namespace) still runs: a holder that is gone frees its claim."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
