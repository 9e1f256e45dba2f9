"""Read-side queries shared by the CLI and the web app, plus harvest watermarks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from sqlalchemy import Connection, Engine, func, select

from paperfeed.models import arxiv_links, parse_arxiv_id
from paperfeed.store import lease
from paperfeed.store.importer import utcnow
from paperfeed.store.schema import (
    external_signals,
    harvest_state,
    ingest_runs,
    paper_categories,
    paper_sources,
    papers,
)


def count_papers(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(papers)).scalar_one()


def latest_day(conn: Connection) -> date | None:
    return conn.execute(select(func.max(papers.c.listed_date))).scalar_one_or_none()


def complete_day(engine: Engine, upto: date | None = None) -> date | None:
    """The newest listing day (up to `upto`) that is whole: while a sync runs (its lease is held) the newest
    stored day may still be growing, so the day before it is the newest complete one. Digests and webhooks
    cover up to this day and never wait for a sync; the rest of a growing day goes out in the next run."""
    newest = select(func.max(papers.c.listed_date))
    with engine.connect() as conn:
        latest = conn.execute(newest).scalar()
        day = conn.execute(newest.where(papers.c.listed_date <= upto)).scalar() if upto else latest
        if day is None or day < latest or not lease.held(engine, "sync", utcnow()):
            return day
        return conn.execute(newest.where(papers.c.listed_date < day)).scalar()


def neighbour_days(conn: Connection, day: date) -> tuple[date | None, date | None]:
    """The nearest earlier and later days that have papers."""
    prev = conn.execute(select(func.max(papers.c.listed_date)).where(papers.c.listed_date < day)).scalar()
    nxt = conn.execute(select(func.min(papers.c.listed_date)).where(papers.c.listed_date > day)).scalar()
    return prev, nxt


def with_links(row) -> dict:
    paper = dict(row)
    paper["links"] = arxiv_links(paper["id"])
    return paper


def papers_of_day(conn: Connection, day: date, category: str | None = None, limit: int | None = None) -> list[dict]:
    query = select(papers).where(papers.c.listed_date == day)
    if category:
        query = query.where(
            papers.c.id.in_(select(paper_categories.c.paper_id).where(paper_categories.c.category == category))
        )
    query = query.order_by(papers.c.id.desc())
    if limit:
        query = query.limit(limit)
    return [with_links(r) for r in conn.execute(query).mappings()]


def resolve_id(text: str) -> str:
    """The stored key for what a user typed: an arXiv id (any version/URL form) or a t- id."""
    parsed = parse_arxiv_id(text)
    return parsed.canonical if parsed else text.strip()


def get_paper(conn: Connection, paper_id: str) -> dict | None:
    row = conn.execute(select(papers).where(papers.c.id == resolve_id(paper_id))).mappings().first()
    if row is None:
        return None
    paper = with_links(row)
    paper["sources"] = [
        dict(r) for r in conn.execute(select(paper_sources).where(paper_sources.c.paper_id == paper["id"])).mappings()
    ]
    paper["signals"] = [
        dict(r)
        for r in conn.execute(select(external_signals).where(external_signals.c.paper_id == paper["id"])).mappings()
    ]
    return paper


def iter_papers(conn: Connection, since: date | None = None, category: str | None = None) -> Iterator[dict]:
    query = select(papers).order_by(papers.c.listed_date, papers.c.id)
    if since:
        query = query.where(papers.c.listed_date >= since)
    if category:
        query = query.where(
            papers.c.id.in_(select(paper_categories.c.paper_id).where(paper_categories.c.category == category))
        )
    for row in conn.execution_options(yield_per=1000).execute(query).mappings():
        yield with_links(row)


def stats(conn: Connection, days: int = 14, top: int = 20) -> dict:
    total = conn.execute(select(func.count()).select_from(papers)).scalar_one()
    per_day = conn.execute(
        select(papers.c.listed_date, func.count())
        .group_by(papers.c.listed_date)
        .order_by(papers.c.listed_date.desc().nulls_last())
        .limit(days)
    ).all()
    per_category = conn.execute(
        select(paper_categories.c.category, func.count())
        .group_by(paper_categories.c.category)
        .order_by(func.count().desc())
        .limit(top)
    ).all()
    per_source = conn.execute(
        select(paper_sources.c.source, func.count()).group_by(paper_sources.c.source).order_by(func.count().desc())
    ).all()
    runs = conn.execute(select(ingest_runs).order_by(ingest_runs.c.id.desc()).limit(5)).mappings().all()
    return {
        "papers": total,
        "per_day": [(d, n) for d, n in per_day],
        "per_category": [(c, n) for c, n in per_category],
        "per_source": [(s, n) for s, n in per_source],
        "recent_runs": [dict(r) for r in runs],
    }


def get_state(engine: Engine, key: str) -> str | None:
    with engine.connect() as conn:
        return state_value(conn, key)


def state_value(conn: Connection, key: str) -> str | None:
    return conn.execute(select(harvest_state.c.value).where(harvest_state.c.key == key)).scalar_one_or_none()


def set_state(engine: Engine, key: str, value: str) -> None:
    with engine.begin() as conn:
        put_state(conn, key, value)


def states_under(engine: Engine, prefix: str) -> dict[str, str]:
    """Every state whose key starts with `prefix`, by key."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(harvest_state.c.key, harvest_state.c.value).where(harvest_state.c.key.startswith(prefix))
        )
        return dict(rows.all())


def put_state(conn: Connection, key: str, value: str) -> None:
    """Within the caller's transaction (so a state change commits with the data it describes)."""
    conn.execute(harvest_state.delete().where(harvest_state.c.key == key))
    conn.execute(harvest_state.insert().values(key=key, value=value, updated_at=utcnow()))


def titles(conn: Connection, ids: set[str] | list[str]) -> dict[str, str]:
    if not ids:
        return {}
    return dict(conn.execute(select(papers.c.id, papers.c.title).where(papers.c.id.in_(list(ids)))).all())
