"""What every page and API route shares: the context, redirects, paper ids, the one visibility check, and the
query types of lists and search."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import AfterValidator, BeforeValidator

from paperfeed.models import check_day, parse_arxiv_id
from paperfeed.store import marks
from paperfeed.store.accounts import User
from paperfeed.web import present
from paperfeed.web.context import Context

# Lists: no sort given means For you for a logged-in user with enough signal, Trending otherwise.
ListSort = Annotated[str | None, Query(pattern="^(trending|new|foryou)$", description="trending, new or foryou")]
Category = Annotated[str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9.\-]*$")]
PageNo = Annotated[int, Query(ge=1, le=10_000)]
Csrf = Annotated[str, Form()]  # every form's csrf_token field (Context.check_csrf checks it)
# An HTML form sends an empty date field as "since=": that means no date, not a bad one.
Day = Annotated[date | None, BeforeValidator(lambda v: v or None), AfterValidator(lambda d: d and check_day(d))]
T_ID = re.compile(r"^t-[0-9a-f]{12}$")
SUBMIT_TIMEOUT = 120.0


def ctx(request: Request) -> Context:
    return request.app.state.ctx


def to(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def login_first(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return to(f"/login?next={quote(here)}")


def signed_in(request: Request, csrf_token: str) -> tuple[Context, User | None]:
    """A form POST's context and user, after its CSRF token is checked (the user is None when signed out:
    the caller sends them to log in first)."""
    c = ctx(request)
    c.check_csrf(request, csrf_token)
    return c, c.user(request)


def page_user(request: Request) -> tuple[Context, User]:
    """A page's context and its signed-in user. Anyone signed out gets a 401, which the app answers on a page
    with login_first: the login form, and back here after."""
    c = ctx(request)
    user = c.user(request)
    if user is None:
        raise HTTPException(401, "log in first")
    return c, user


def need_user(c: Context, request: Request, write: bool = False) -> User:
    """The API's caller (a Bearer token or the browser session); 401 without one."""
    user = c.api_user(request, write)
    if user is None:
        raise HTTPException(401, "authenticate with an API token (Authorization: Bearer ...) or log in")
    return user


def paper_key(text: str) -> str:
    """The stored id for a path segment; 422 for text that cannot be a paper id at all."""
    parsed = parse_arxiv_id(text)
    if parsed:
        return parsed.canonical
    if T_ID.match(text):
        return text
    raise HTTPException(422, f"not a paper id: {text[:80]!r} (an arXiv id such as 2503.01234, or a t- id)")


def visible(c: Context, paper_id: str, user: User | None) -> dict:
    """The paper, as `user` may see it: 404 for an unknown id or a paper an admin hid (admins see it, with
    `hidden` set); 422 for text that cannot be a paper id."""
    key = paper_key(paper_id)
    with c.engine.connect() as conn:
        hidden = key in marks.hidden_ids(conn)
        if hidden and not (user and user.is_admin):
            raise HTTPException(404, f"no paper {key}")
        found = present.load_papers(conn, [key], user)
    if not found:
        raise HTTPException(404, f"no paper {key}")
    paper = found[0]
    paper["hidden"] = hidden
    return paper


def visible_paper(c: Context, request: Request, paper_id: str) -> dict:
    return visible(c, paper_id, c.user(request))


@dataclass
class SearchParams:
    """What the search page and /api/search both take: the query and its filters, checked the same way."""

    q: str
    since: date | None
    until: date | None
    category: str | None
    author: str
    mode: str
    sort: str

    def run(self, c: Context, limit: int, offset: int = 0, has_code: bool = False, spell: bool = True):
        return c.search.search(
            self.q,
            limit=limit,
            offset=offset,
            sort=self.sort,
            mode=self.mode,
            since=self.since,
            until=self.until,
            categories=[self.category] if self.category else None,
            authors=[self.author] if self.author.strip() else None,
            has_code=has_code,
            spell=spell,
        )


def search_params(
    q_: Annotated[str, Query(alias="q", max_length=20_000, description='words, "phrases", author:, cat:')] = "",
    since: Day | None = None,
    until: Day | None = None,
    category: Category = None,
    author: Annotated[str, Query(max_length=200)] = "",
    mode: Annotated[str, Query(pattern="^(hybrid|lexical|dense)$")] = "hybrid",
    sort: Annotated[str, Query(pattern="^(relevance|date)$")] = "relevance",
) -> SearchParams:
    return SearchParams(q_, since, until, category or None, author, mode, sort)


Search = Annotated[SearchParams, Depends(search_params)]
