"""External signals (upvotes, comments, stars, … as an upstream reported them) attached to stored papers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from paperfeed.clock import utcnow
from paperfeed.models import Signals, clean_signal
from paperfeed.store.db import chunks, load_in
from paperfeed.store.schema import external_signals, papers


def write_signals(conn: Connection, batch: list[Signals]) -> tuple[int, int, int]:
    """Attach signals to stored papers, in order (a later record of a paper wins). Returns (updated,
    unchanged, unmatched): unmatched records name a paper the store does not hold and write nothing."""
    ids = list({s.paper_id for s in batch})
    stored = {pid for chunk in chunks(ids) for pid in conn.scalars(select(papers.c.id).where(papers.c.id.in_(chunk)))}
    old = {
        (r["paper_id"], r["source"], r["name"]): signal_value(r)
        for r in load_in(conn, external_signals, external_signals.c.paper_id, list(stored))
    }
    current = dict(old)
    updated = unchanged = unmatched = 0
    for s in batch:
        if s.paper_id not in stored:
            unmatched += 1
            continue
        values = {(s.paper_id, s.source, name): clean_signal(v) for name, v in s.values.items()}
        changed = any(current.get(k) != v for k, v in values.items())
        updated, unchanged = updated + changed, unchanged + (not changed)
        current.update(values)
    write_changed(conn, {k: v for k, v in current.items() if k not in old or old[k] != v}, old, utcnow())
    return updated, unchanged, unmatched


def signal_value(row) -> float | str | None:
    return row["value_num"] if row["value_num"] is not None else row["value_text"]


def write_changed(conn: Connection, signals: dict, old: dict, now: datetime) -> None:
    changed = {k: v for k, v in signals.items() if old.get(k) != v}
    if not changed:
        return
    for paper_id, source, name in (k for k in changed if k in old):
        conn.execute(
            delete(external_signals).where(
                external_signals.c.paper_id == paper_id,
                external_signals.c.source == source,
                external_signals.c.name == name,
            )
        )
    conn.execute(
        insert(external_signals),
        [
            {
                "paper_id": k[0],
                "source": k[1],
                "name": k[2],
                "value_num": float(v) if isinstance(v, int | float) else None,
                "value_text": None if isinstance(v, int | float) else str(v),
                "observed_at": now,
            }
            for k, v in changed.items()
        ],
    )
