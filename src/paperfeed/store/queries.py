"""Read-side queries shared by the CLI and the web app, plus harvest watermarks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from sqlalchemy import Connection, Engine, String, cast, func, select

from paperfeed.clock import utcnow
from paperfeed.models import arxiv_links, parse_arxiv_id
from paperfeed.store import lease
from paperfeed.store.schema import (
    comments,
    external_signals,
    harvest_state,
    hidden_papers,
    ingest_runs,
    paper_categories,
    paper_sources,
    papers,
    upvotes,
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


def ping(conn: Connection) -> None:
    """A round trip to the database (raises what the driver raises when it cannot answer)."""
    conn.execute(select(1))


def paper_rows(conn: Connection, ids: list[str]) -> list[dict]:
    """The stored rows of these papers (any order; unknown ids are left out), in chunks the drivers accept."""
    found = []
    for i in range(0, len(ids), 5000):
        found += [dict(r) for r in conn.execute(select(papers).where(papers.c.id.in_(ids[i : i + 5000]))).mappings()]
    return found


def modified_stamps(engine: Engine, scope: list[str] | None = None) -> dict[str, object]:
    """paper id -> modified_at, for every paper or those in `scope`."""
    query = select(papers.c.id, papers.c.modified_at)
    with engine.connect() as conn:
        if scope is None:
            return dict(conn.execute(query).all())
        found = {}
        for i in range(0, len(scope), 500):
            found.update(conn.execute(query.where(papers.c.id.in_(scope[i : i + 500]))).all())
        return found


def top_categories(conn: Connection, start: date, end: date, n: int = 10) -> list[str]:
    """The categories with the most papers listed from `start` to `end`."""
    rows = conn.execute(
        select(paper_categories.c.category, func.count())
        .join(papers, papers.c.id == paper_categories.c.paper_id)
        .where(papers.c.listed_date >= start, papers.c.listed_date <= end)
        .group_by(paper_categories.c.category)
        .order_by(func.count().desc(), paper_categories.c.category)
        .limit(n)
    )
    return [c for c, _ in rows]


def stored_ids(engine: Engine, ids: list[str]) -> set[str]:
    """The ones of `ids` the store holds."""
    found = set()
    with engine.connect() as conn:
        for start in range(0, len(ids), 5000):
            found.update(conn.scalars(select(papers.c.id).where(papers.c.id.in_(ids[start : start + 5000]))))
    return found


def in_category(conn: Connection, category: str, start: date, end: date) -> set[str]:
    """The papers listed from `start` to `end` that carry `category` (primary or cross-listed)."""
    rows = conn.execute(
        select(paper_categories.c.paper_id)
        .join(papers, papers.c.id == paper_categories.c.paper_id)
        .where(paper_categories.c.category == category, papers.c.listed_date.between(start, end))
    )
    return {pid for (pid,) in rows}


def authors_like(engine: Engine, last_name: str) -> list[tuple[str, list[str]]]:
    """(id, authors) of the papers whose author list mentions `last_name` anywhere (case-insensitive): a rough
    LIKE on the JSON text that narrows the scan; callers compare the names exactly."""
    authors_text = func.lower(cast(papers.c.authors, String))
    query = select(papers.c.id, papers.c.authors).where(authors_text.contains(last_name.lower(), autoescape=True))
    with engine.connect() as conn:
        return [(pid, authors or []) for pid, authors in conn.execute(query)]


def recent_days(conn: Connection, n: int) -> list[date]:
    """The newest `n` listing days that have papers, newest first."""
    query = (
        select(papers.c.listed_date)
        .where(papers.c.listed_date.is_not(None))
        .distinct()
        .order_by(papers.c.listed_date.desc())
        .limit(n)
    )
    return list(conn.execute(query).scalars())


def vote_counts(conn: Connection, start: date, end: date, category: str | None = None) -> list[tuple]:
    """(id, listed_date, our upvotes, external upvotes, commenters here) of every visible paper listed from `start`
    to `end`."""
    votes = select(func.count()).where(upvotes.c.paper_id == papers.c.id).scalar_subquery()
    external = (
        select(func.coalesce(func.sum(external_signals.c.value_num), 0))
        .where(external_signals.c.paper_id == papers.c.id, external_signals.c.name == "upvotes")
        .scalar_subquery()
    )
    # People (not comments) who wrote a readable comment here: a thread of one person talking to themselves
    # counts once.
    talkers = (
        select(func.count(func.distinct(comments.c.user_id)))
        .where(comments.c.paper_id == papers.c.id, comments.c.deleted_at.is_(None), comments.c.hidden_at.is_(None))
        .scalar_subquery()
    )
    columns = (votes.label("votes"), external.label("external"), talkers.label("commenters"))
    query = select(papers.c.id, papers.c.listed_date, *columns).where(
        papers.c.listed_date >= start,
        papers.c.listed_date <= end,
        papers.c.id.not_in(select(hidden_papers.c.paper_id)),
    )
    if category:
        query = query.where(
            papers.c.id.in_(select(paper_categories.c.paper_id).where(paper_categories.c.category == category))
        )
    return [tuple(r) for r in conn.execute(query)]
