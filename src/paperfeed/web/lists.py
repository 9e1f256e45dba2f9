"""The lists: a day, week or month (trending, new or For you) and /trending."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from paperfeed.models import parse_arxiv_id
from paperfeed.rank import foryou, trending
from paperfeed.store import accounts, group_activity, groups, marks, taste
from paperfeed.store import queries as q
from paperfeed.store.accounts import User
from paperfeed.web import present
from paperfeed.web.common import (
    T_ID,
    Category,
    ListSort,
    PageNo,
    ctx,
    login_first,
)
from paperfeed.web.context import Context
from paperfeed.web.paper import paper_page

router = APIRouter(include_in_schema=False)
FOR_YOU_FIRST = 3  # likes and imported papers before For you becomes a user's default tab


# -- lists ------------------------------------------------------------------------------------------
def render_list(
    request: Request,
    period: present.Period | None,
    sort: str,
    category: str | None,
    page: int,
    code: bool = False,
    seen: bool = False,
):
    c = ctx(request)
    user = c.user(request)
    sort = sort or default_sort(c, user)
    if sort == "foryou" and user is None:
        return login_first(request)
    interest = interest_of(request)
    size = c.settings.page_size
    group = group_of(request)
    if group and user is None:
        return login_first(request)
    with c.engine.connect() as conn:
        if period is None:
            latest = q.latest_day(conn)
            period = present.period_of("date", latest) if latest else None
        only, my_groups = group_filter(conn, user, group, period)
        papers, total, prev, nxt, chips, ranking = [], 0, None, None, [], None
        if period:
            if sort == "foryou":
                papers, total, ranking = for_you_page(
                    c, conn, user, period, category, code, page, size, seen, interest, only
                )
            else:
                papers, total = present.ranked_page(conn, period, sort, category, page, size, user, code, only)
            prev, nxt = present.neighbours(conn, period)
            chips = present.top_categories(conn, period.start, period.end)
        interests = marks.all_tags(conn, user) if sort == "foryou" else []
        ask = present.load_papers(conn, ranking.unsure, user) if ranking and page == 1 and not interest else []
    return c.render(
        request,
        "list.html",
        period=period,
        papers=papers,
        total=total,
        prev=prev,
        next=nxt,
        sort=sort,
        category=category,
        chips=chips,
        page=page,
        pages=max(1, math.ceil(total / size)),
        code=code,
        ranking=ranking,
        show_seen=seen,
        interest=interest,
        interests=interests,
        ask=ask,
        marked=marked_paper(request.query_params.get("marked", "")),
        group=group,
        my_groups=my_groups,
    )


def group_of(request: Request) -> int:
    """?group=ID: only the papers the user's group picked (upvoted or saved by a member)."""
    value = request.query_params.get("group", "")
    if value and not (value.isdigit() and 0 < int(value) < 2**31):
        raise HTTPException(422, f"group: a group's number, not {value[:20]!r}")
    return int(value) if value else 0


def group_filter(conn, user: User | None, group: int, period) -> tuple[set[str] | None, list[dict]]:
    """The ids the group picked (None: no filter) and the user's groups; 404 for a group the user is not in."""
    mine = groups.of_user(conn, user)
    if not group:
        return None, mine
    if group not in {g["id"] for g in mine}:
        raise HTTPException(404, "no such group (or you are not a member)")
    return group_activity.picked_ids(conn, group, period and period.start, period and period.end), mine


def default_sort(c: Context, user: User | None) -> str:
    """For you for a logged-in user who has given enough signal to rank by; Trending for everyone else."""
    if user is None:
        return "trending"
    with c.engine.connect() as conn:
        return "foryou" if taste.signal_count(conn, user.id) >= FOR_YOU_FIRST else "trending"


def marked_paper(value: str) -> str:
    """The paper the Undo notice is about: an id as we store them, never free text (it goes into a form's
    action, where "../logout?" would post elsewhere)."""
    parsed = parse_arxiv_id(value)
    if parsed is not None:
        return parsed.canonical
    return value if T_ID.match(value) else ""


def interest_of(request: Request) -> str:
    """The For-you view's interest (a library tag) from ?interest=, checked as tags are."""
    value = request.query_params.get("interest", "")
    try:
        found = marks.clean_tags([value]) if value else []
    except accounts.AccountError as exc:
        raise HTTPException(422, str(exc)) from None
    return found[0] if found else ""


def for_you_page(
    c: Context,
    conn,
    user: User,
    period,
    category,
    code: bool,
    page: int,
    size: int,
    show_seen: bool,
    interest="",
    only: set[str] | None = None,
):
    """The period's papers ranked by the user's taste (or one interest of it), each with its reason; the
    trending order while the user has given no signal yet (the Ranking says why)."""
    ids = present.ranked_ids(conn, period, "trending", category, code, only)
    ranking = foryou.for_you(c.engine, c.search, user.id, ids, show_seen=show_seen, interest=interest)
    if ranking.needs_signal or ranking.indexing:
        return present.load_papers(conn, ids[(page - 1) * size : page * size], user), len(ids), ranking
    chosen = ranking.picks[(page - 1) * size : page * size]
    return present.with_reasons(conn, chosen, user), len(ranking.picks), ranking


@router.get("/")
def latest(
    request: Request,
    sort: ListSort = None,
    category: Category = None,
    page: PageNo = 1,
    code: bool = False,
    seen: bool = False,
):
    return render_list(request, None, sort, category or None, page, code, seen)


@router.get("/papers/{kind}/{key}")
def period_list(
    request: Request,
    kind: str,
    key: str,
    sort: ListSort = None,
    category: Category = None,
    page: PageNo = 1,
    code: bool = False,
    seen: bool = False,
):
    if kind not in ("date", "week", "month"):
        return paper_page(request, f"{kind}/{key}")
    try:
        period = present.parse_period(kind, key)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return render_list(request, period, sort, category or None, page, code, seen)


@router.get("/trending")
def trending_page(request: Request, category: Category = None, days: Annotated[int | None, Query(ge=1, le=90)] = None):
    c = ctx(request)
    days = days or c.settings.trending_days
    with c.engine.connect() as conn:
        top = trending.trending(conn, days, category or None, c.settings.page_size)
        papers = present.load_papers(conn, [e.id for e in top], c.user(request))
    return c.render(request, "trending.html", papers=papers, days=days, category=category)
