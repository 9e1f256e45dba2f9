"""Authors: the papers, co-authors and categories of one name (by its key, models.author_key), and the authors
users follow."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import Connection, Engine, and_, delete, func, select, update

from paperfeed import markup
from paperfeed.clock import utcnow
from paperfeed.models import author_key
from paperfeed.store.accounts import AccountError, User
from paperfeed.store.db import insert_ignore, insert_under_cap
from paperfeed.store.schema import (
    author_claims,
    author_follows,
    hidden_papers,
    paper_authors,
    paper_categories,
    papers,
    users,
)

MAX_FOLLOWS = 500
FOLLOW_LOCK = 0x666F6C6C << 20  # advisory lock keys of the follow cap, one per user


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
    coauthors = frequent_coauthors(conn, key, mine, n)
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


def frequent_coauthors(conn: Connection, key: str, mine, n: int) -> list[tuple[str, str, int]]:
    """(key, name, papers together) of the `n` most frequent co-authors on the papers `mine`, each named by their
    most common written form there. Counted in SQL and named in a second query for those `n` only: a prolific
    author's papers have thousands of co-author rows (the benchmark's: 2,122)."""
    together = func.count(func.distinct(paper_authors.c.paper_id))
    on_mine = paper_authors.c.paper_id.in_(select(mine.c.paper_id))
    top = conn.execute(
        select(paper_authors.c.key, together)
        .where(on_mine, paper_authors.c.key != key)
        .group_by(paper_authors.c.key)
        .order_by(together.desc(), paper_authors.c.key)
        .limit(n)
    ).all()
    forms = conn.execute(
        select(paper_authors.c.key, paper_authors.c.name, together)
        .where(on_mine, paper_authors.c.key.in_([k for k, _ in top]))
        .group_by(paper_authors.c.key, paper_authors.c.name)
        .order_by(paper_authors.c.key, together.desc(), paper_authors.c.name)
    ).all()
    names: dict[str, str] = {}
    for k, name, _ in forms:
        names.setdefault(k, name)  # the first row of each key is its most common form
    return [(k, names.get(k, k), count) for k, count in top]


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
        if conn.dialect.name == "postgresql":  # follows at once from one user count one after the other
            conn.execute(select(func.pg_advisory_xact_lock(FOLLOW_LOCK + user.id)))
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


# -- claims ("this is me") ------------------------------------------------------------------------------------
MAX_BIO = 2_000
MAX_PINNED = 5


def claim(engine: Engine, user: User, key: str) -> None:
    """Ask to be this author; an admin confirms. Asking again changes nothing."""
    with engine.begin() as conn:
        if confirmed(conn, key) is not None:
            raise AccountError("this author page is claimed already; ask an admin if that is wrong")
        row = {
            "key": key,
            "user_id": user.id,
            "status": "pending",
            "bio": "",
            "bio_html": "",
            "pinned": [],
            "created_at": utcnow(),
        }
        insert_ignore(conn, author_claims, row)


def confirmed(conn: Connection, key: str) -> dict | None:
    """The confirmed claim of the author (with the claimant's username), if any."""
    row = (
        conn.execute(
            select(author_claims, users.c.username)
            .join(users, users.c.id == author_claims.c.user_id)
            .where(author_claims.c.key == key, author_claims.c.status == "confirmed")
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def claim_of(conn: Connection, user: User | None, key: str) -> dict | None:
    if user is None:
        return None
    row = (
        conn.execute(select(author_claims).where(author_claims.c.key == key, author_claims.c.user_id == user.id))
        .mappings()
        .first()
    )
    return dict(row) if row else None


def pending_claims(conn: Connection) -> list[dict]:
    rows = conn.execute(
        select(author_claims, users.c.username)
        .join(users, users.c.id == author_claims.c.user_id)
        .where(author_claims.c.status == "pending")
        .order_by(author_claims.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def decide(engine: Engine, claim_id: int, confirm: bool) -> str:
    """An admin's answer to a claim; the author key. Confirming one claim of a key refuses the others: one
    person per page, decided in one transaction (the key's claims are locked on PostgreSQL)."""
    now = utcnow()
    with engine.begin() as conn:
        row = conn.execute(
            select(author_claims.c.key, author_claims.c.status).where(author_claims.c.id == claim_id)
        ).first()
        if row is None:
            raise AccountError("no such claim")
        rivals = author_claims.c.key == row.key
        if conn.dialect.name == "postgresql":
            conn.execute(select(author_claims.c.id).where(rivals).with_for_update())
        if not confirm:
            conn.execute(
                update(author_claims).where(author_claims.c.id == claim_id).values(status="refused", decided_at=now)
            )
            return row.key
        conn.execute(
            update(author_claims)
            .where(rivals, author_claims.c.id != claim_id, author_claims.c.status != "refused")
            .values(status="refused", decided_at=now)
        )
        conn.execute(
            update(author_claims).where(author_claims.c.id == claim_id).values(status="confirmed", decided_at=now)
        )
        return row.key


def set_profile(engine: Engine, user: User, key: str, bio: str, pinned: list[str]) -> None:
    """The confirmed claimant's bio (Markdown) and pinned papers (of their page, at most MAX_PINNED)."""
    bio = bio.replace("\r\n", "\n").strip()
    if len(bio) > MAX_BIO:
        raise AccountError(f"a bio is at most {MAX_BIO:,} characters")
    if len(pinned) > MAX_PINNED:
        raise AccountError(f"pin at most {MAX_PINNED} papers")
    with engine.begin() as conn:
        theirs = {pid for (pid,) in conn.execute(visible_ids(conn, key))}
        wrong = [p for p in pinned if p not in theirs]
        if wrong:
            raise AccountError(f"{wrong[0][:40]} is not one of this author's papers here")
        mine = and_(
            author_claims.c.key == key, author_claims.c.user_id == user.id, author_claims.c.status == "confirmed"
        )
        values = {"bio": bio, "bio_html": markup.render(bio) if bio else "", "pinned": list(dict.fromkeys(pinned))}
        if conn.execute(update(author_claims).where(mine).values(**values)).rowcount != 1:
            raise AccountError("only the confirmed owner of this page can change it")
