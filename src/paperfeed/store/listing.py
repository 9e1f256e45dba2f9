"""Papers as lists show them: full rows plus vote counts, and the asking user's vote and tags."""

from __future__ import annotations

from sqlalchemy import Connection, func, or_, select

from paperfeed.links import code_url, find_links
from paperfeed.store import marks, threads
from paperfeed.store import queries as q
from paperfeed.store.accounts import User
from paperfeed.store.schema import external_signals, papers


def load_papers(conn: Connection, ids: list[str], user: User | None) -> list[dict]:
    """Full rows for these ids, in this order, with votes, the user's vote and the user's tags."""
    if not ids:
        return []
    rows = {r["id"]: q.with_links(r) for r in conn.execute(select(papers).where(papers.c.id.in_(ids))).mappings()}
    votes = marks.vote_counts(conn, ids)
    mine = marks.voted_by(conn, user, ids)
    tags = marks.tags_of(conn, user, ids)
    signals = signals_of(conn, ids)
    talk = threads.counts(conn, ids)
    notes = marks.notes_of(conn, user, ids)
    out = []
    for pid in ids:
        if pid in rows:
            p = rows[pid]
            hf = signals.get(pid, {}).get("hf-daily", {})
            external = sum(int(s.get("upvotes") or 0) for s in signals.get(pid, {}).values())
            p.update(votes=votes.get(pid, 0), voted=pid in mine, tags=tags.get(pid), external=external, hf=hf)
            p["discussion"] = talk.get(pid, 0)  # comments here (HF's count is hf["comments"])
            p.update(notes.get(pid, {"note": None, "note_html": None, "state": None}))
            p.update(with_code_links(p, hf))
            out.append(p)
    return out


def with_code_links(p: dict, hf: dict) -> dict:
    """`code` and `project`: Hugging Face's links where it has them, else the first the paper names itself;
    `found_links`: every code, project, model, dataset and space link in the abstract and comments."""
    found = find_links(p["abstract"], p.get("comments"))
    first = {kind: next((link.url for link in found if link.kind == kind), None) for kind in ("code", "project")}
    return {
        "found_links": found,
        "code": hf.get("github_repo") or first["code"],
        "project": hf.get("project_page") or first["project"],
    }


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


_CODE_HOSTS = ("%github.com/%", "%gitlab.com/%")


def with_code(conn: Connection, ids: list[str]) -> set[str]:
    """The papers among `ids` with a code repository: Hugging Face's githubRepo, or one the abstract or the
    comments name (a quick LIKE narrows the rows, links.code_url decides)."""
    found: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        found |= set(
            conn.scalars(
                select(external_signals.c.paper_id).where(
                    external_signals.c.paper_id.in_(chunk), external_signals.c.name == "github_repo"
                )
            )
        )
        named = or_(*(col.ilike(h) for col in (papers.c.abstract, papers.c.comments) for h in _CODE_HOSTS))
        rows = conn.execute(
            select(papers.c.id, papers.c.abstract, papers.c.comments).where(papers.c.id.in_(chunk), named)
        )
        found |= {pid for pid, abstract, comments in rows if code_url(abstract, comments)}
    return found


def submitted_by(conn: Connection, name: str) -> set[str]:
    """The papers a Hugging Face user featured (their `submittedBy`)."""
    return set(
        conn.scalars(
            select(external_signals.c.paper_id).where(
                external_signals.c.name == "submitted_by", func.lower(external_signals.c.value_text) == name.lower()
            )
        )
    )
