"""Trending: community votes with time decay, as on Hacker News.

    score = (votes + EXTERNAL_WEIGHT * external + DISCUSSION_WEIGHT * commenters + 1) / (age_hours + 2) ** GRAVITY

- votes: our users' upvotes (one per user and paper);
- external: upvotes a source reported with the paper (Hugging Face daily papers), kept apart from ours;
- commenters: people here with a readable comment on the paper (not comments: one person's long exchange
  counts once); half an upvote each, as talking about a paper says less than recommending it, and a deleted
  or hidden comment stops counting;
- age_hours: hours from the start of the paper's listing day (UTC) to `now`;
- the +1 lets a paper nobody has voted on yet still rank by age, newest first;
- +2 keeps a paper listed this very hour from dividing by nearly zero; GRAVITY 1.8 makes a day-old paper
  need about 2.3x the votes of a paper listed 12 hours later to stay ahead of it.

A list's "now" is the end of its last day, so the order of a past day, week or month does not drift as
the calendar moves on, and /trending over a store that stopped importing still has papers to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Connection

from paperfeed.store import queries as q
from paperfeed.store.listing import with_code

GRAVITY = 1.8
EXTERNAL_WEIGHT = 1.0
DISCUSSION_WEIGHT = 0.5
SORTS = ("trending", "new")


@dataclass
class Entry:
    id: str
    listed: date | None
    votes: int
    external: int
    commenters: int = 0
    score: float = 0.0


def score(votes: float, external: float, age_hours: float, gravity: float = GRAVITY, commenters: int = 0) -> float:
    community = votes + EXTERNAL_WEIGHT * external + DISCUSSION_WEIGHT * commenters
    return (community + 1.0) / (max(age_hours, 0.0) + 2.0) ** gravity


def end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time())


def entries(conn: Connection, start: date, end: date, category: str | None = None) -> list[Entry]:
    """Every visible paper listed from `start` to `end` (inclusive), with its vote counts."""
    rows = q.vote_counts(conn, start, end, category)
    return [Entry(pid, listed, int(v), int(e), int(t)) for pid, listed, v, e, t in rows]


def rank(items: list[Entry], now: datetime, sort: str = "trending") -> list[Entry]:
    """Best first. "trending": by score, ties newest then by id; "new": newest listing day, then id."""
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}")
    for e in items:
        listed = datetime.combine(e.listed, time()) if e.listed else now - timedelta(days=3650)
        e.score = score(e.votes, e.external, (now - listed).total_seconds() / 3600, commenters=e.commenters)
    if sort == "new":
        return sorted(items, key=lambda e: (e.listed or date.min, e.id), reverse=True)
    newest_first = sorted(items, key=lambda e: (e.listed or date.min, e.id), reverse=True)
    return sorted(newest_first, key=lambda e: -e.score)  # stable: equal scores stay newest first


def trending(conn: Connection, days: int = 3, category: str | None = None, limit: int = 100) -> list[Entry]:
    """The top papers of the last `days` listing days that have papers, ending at the newest one."""
    recent = q.recent_days(conn, days)
    if not recent:
        return []
    return rank(entries(conn, recent[-1], recent[0], category), end_of(recent[0]))[:limit]


def ranked_ids(
    conn: Connection,
    start: date,
    end: date,
    sort: str = "trending",
    category: str | None = None,
    code: bool = False,
    only: set[str] | None = None,
) -> list[str]:
    """The ids of the papers listed from `start` to `end`, ranked; `code`: only papers with code; `only`: only
    these ids."""
    ranked = rank(entries(conn, start, end, category), end_of(end), sort)
    ids = [e.id for e in ranked if only is None or e.id in only]
    if code:
        keep = with_code(conn, ids)
        ids = [pid for pid in ids if pid in keep]
    return ids
