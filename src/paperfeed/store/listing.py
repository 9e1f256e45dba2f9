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
    signals = signals_of(conn, ids)
    out = []
    for pid in ids:
        if pid in rows:
            p = rows[pid]
            hf = signals.get(pid, {}).get("hf-daily", {})
            external = sum(int(s.get("upvotes") or 0) for s in signals.get(pid, {}).values())
            p.update(votes=votes.get(pid, 0), voted=pid in mine, tags=tags.get(pid), external=external, hf=hf)
            out.append(p)
    return out


def signals_of(conn: Connection, ids: list[str]) -> dict[str, dict[str, dict]]:
    """paper id -> source -> {signal name: value}, e.g. {"hf-daily": {"upvotes": 12.0, "github_repo": "…"}}."""
    rows = conn.execute(
        select(
            external_signals.c.paper_id,
            external_signals.c.source,
            external_signals.c.name,
            external_signals.c.value_num,
            external_signals.c.value_text,
        ).where(external_signals.c.paper_id.in_(ids))
    )
    out: dict[str, dict[str, dict]] = {}
    for pid, source, name, num, text in rows:
        out.setdefault(pid, {}).setdefault(source, {})[name] = num if num is not None else text
    return out
