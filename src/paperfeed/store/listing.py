"""Papers as lists show them: full rows plus vote counts, and the asking user's vote and tags."""

from __future__ import annotations

from sqlalchemy import Connection, select

from paperfeed.store import accounts
from paperfeed.store import queries as q
from paperfeed.store.accounts import User
from paperfeed.store.schema import external_signals, papers


def load_papers(conn: Connection, ids: list[str], user: User | None) -> list[dict]:
    """Full rows for these ids, in this order, with votes, the user's vote and the user's tags."""
    if not ids:
        return []
    rows = {r["id"]: q.with_links(r) for r in conn.execute(select(papers).where(papers.c.id.in_(ids))).mappings()}
    votes = accounts.vote_counts(conn, ids)
    mine = accounts.voted_by(conn, user, ids)
    tags = accounts.tags_of(conn, user, ids)
    external = external_votes(conn, ids)
    out = []
    for pid in ids:
        if pid in rows:
            p = rows[pid]
            p.update(votes=votes.get(pid, 0), voted=pid in mine, tags=tags.get(pid), external=external.get(pid, 0))
            out.append(p)
    return out


def external_votes(conn: Connection, ids: list[str]) -> dict[str, int]:
    rows = conn.execute(
        select(external_signals.c.paper_id, external_signals.c.value_num).where(
            external_signals.c.paper_id.in_(ids), external_signals.c.name == "upvotes"
        )
    )
    out: dict[str, int] = {}
    for pid, n in rows:
        out[pid] = out.get(pid, 0) + int(n or 0)
    return out
