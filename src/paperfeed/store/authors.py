"""Authors: the papers, co-authors and categories of one name (by its key, models.author_key), and the authors
users follow."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import Connection, Engine, and_, delete, func, select

from paperfeed.clock import utcnow
from paperfeed.models import author_key
from paperfeed.store.accounts import AccountError, User
from paperfeed.store.db import insert_under_cap
from paperfeed.store.schema import author_follows, hidden_papers, paper_authors, paper_categories, papers

MAX_FOLLOWS = 500


def visible_ids(conn: Connection, key: str):
    """The ids of the visible papers with an author of this key."""
    return (
        select(paper_authors.c.paper_id)
        .where(paper_authors.c.key == key, paper_authors.c.paper_id.not_in(select(hidden_papers.c.paper_id)))
        .distinct()
    )


def papers_of(conn: Connection, key: str, limit: int, offset: int = 0) -> tuple[list[str], int]:
    """(ids newest first, total) of the author's visible papers."""
    mine = visible_ids(conn, key).subquery()
    total = conn.execute(select(func.count()).select_from(mine)).scalar_one()
    rows = conn.execute(
        select(papers.c.id)
        .where(papers.c.id.in_(select(mine.c.paper_id)))
        .order_by(papers.c.listed_date.desc().nulls_last(), papers.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [pid for (pid,) in rows], total


def profile(conn: Connection, key: str, n: int = 12) -> dict:
    """The name as most often written, the other forms, frequent co-authors (key, name, papers together) and
    categories (category, papers) of the author's visible papers; `papers` 0 for a name nobody here has."""
    mine = visible_ids(conn, key).subquery()
    forms = Counter(
        dict(
            conn.execute(
                select(paper_authors.c.name, func.count())
                .where(paper_authors.c.key == key, paper_authors.c.paper_id.in_(select(mine.c.paper_id)))
                .group_by(paper_authors.c.name)
            ).all()
        )
    )
    together = conn.execute(
        select(paper_authors.c.key, paper_authors.c.name, func.count(func.distinct(paper_authors.c.paper_id)))
        .where(paper_authors.c.paper_id.in_(select(mine.c.paper_id)), paper_authors.c.key != key)
        .group_by(paper_authors.c.key, paper_authors.c.name)
    ).all()
    people: dict[str, list] = {}
    for k, name, count in together:
        entry = people.setdefault(k, [k, name, 0, 0])
        entry[2] += count
        if count > entry[3]:  # the co-author's most common written form names them
            entry[1], entry[3] = name, count
    coauthors = sorted(((k, name, c) for k, name, c, _ in people.values()), key=lambda x: (-x[2], x[0]))[:n]
    categories = conn.execute(
        select(paper_categories.c.category, func.count())
        .where(paper_categories.c.paper_id.in_(select(mine.c.paper_id)))
        .group_by(paper_categories.c.category)
        .order_by(func.count().desc(), paper_categories.c.category)
        .limit(n)
    ).all()
    name = forms.most_common(1)[0][0] if forms else ""
    return {
        "key": key,
        "name": name,
        "forms": [f for f, _ in forms.most_common() if f != name],
        "papers": conn.execute(select(func.count()).select_from(mine)).scalar_one(),
        "coauthors": coauthors,
        "categories": [tuple(r) for r in categories],
    }


def most_prolific(conn: Connection) -> tuple[str, int]:
    """(key, papers) of the author with the most papers here (what the benchmark opens)."""
    n = func.count(func.distinct(paper_authors.c.paper_id))
    row = conn.execute(
        select(paper_authors.c.key, n).group_by(paper_authors.c.key).order_by(n.desc(), paper_authors.c.key).limit(1)
    ).first()
    return (row[0], row[1]) if row else ("", 0)


def new_papers(conn: Connection, keys: list[str], start: date, end: date) -> list[str]:
    """Visible papers listed from `start` to `end` with an author of these keys, newest first."""
    if not keys:
        return []
    rows = conn.execute(
        select(papers.c.id)
        .where(
            papers.c.id.in_(select(paper_authors.c.paper_id).where(paper_authors.c.key.in_(keys))),
            papers.c.id.not_in(select(hidden_papers.c.paper_id)),
            papers.c.listed_date >= start,
            papers.c.listed_date <= end,
        )
        .order_by(papers.c.listed_date.desc(), papers.c.id.desc())
    )
    return [pid for (pid,) in rows]


# -- following ---------------------------------------------------------------------------------------------
def follow(engine: Engine, user: User, name: str, on: bool = True) -> str:
    """Follow (or stop following) the author of this name; the key."""
    key = author_key(name)
    if not key:
        raise AccountError("an author's name has letters or digits")
    with engine.begin() as conn:
        mine = and_(author_follows.c.user_id == user.id, author_follows.c.key == key)
        if not on:
            conn.execute(delete(author_follows).where(mine))
            return key
        row = {"user_id": user.id, "key": key, "name": name.strip()[:300], "created_at": utcnow()}
        added = insert_under_cap(conn, author_follows, row, author_follows.c.user_id == user.id, MAX_FOLLOWS)
        if not added and conn.execute(select(author_follows.c.key).where(mine)).first() is None:
            raise AccountError(f"you follow {MAX_FOLLOWS} authors already; stop following some first")
    return key


def followed(conn: Connection, user: User | None) -> list[tuple[str, str]]:
    """(key, name) of the authors the user follows, by name."""
    if user is None:
        return []
    rows = conn.execute(
        select(author_follows.c.key, author_follows.c.name)
        .where(author_follows.c.user_id == user.id)
        .order_by(author_follows.c.name)
    )
    return [tuple(r) for r in rows]


def followed_keys(conn: Connection, user_id: int) -> list[str]:
    return [k for (k,) in conn.execute(select(author_follows.c.key).where(author_follows.c.user_id == user_id))]
